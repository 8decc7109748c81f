using Candle.Compiler.Ir;

namespace Candle.Compiler.Passes;

/// <summary>
/// A graph-to-graph transformation. <see cref="Run"/> never mutates its input (graphs are immutable) and
/// returns the same object when nothing changes.
/// </summary>
public interface IPass
{
    /// <summary>Name, opt level and requirements.</summary>
    PassInfo Info { get; }

    /// <summary>Transforms <paramref name="graph"/>.</summary>
    Graph Run(Graph graph, PassContext context);
}
