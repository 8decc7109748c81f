using Candle.Compiler.Ir;

namespace Candle.Compiler.Passes;

/// <summary>Base class of the built-in passes (each a sealed class in its own file).</summary>
public abstract class Pass : IPass
{
    /// <inheritdoc/>
    public abstract PassInfo Info { get; }

    /// <summary>The pass's name.</summary>
    public string Name => Info.Name;

    /// <inheritdoc/>
    public abstract Graph Run(Graph graph, PassContext context);

    /// <inheritdoc/>
    public override string ToString() => Name;
}
