using Candle.Compiler.Ir;

namespace Candle.Compiler.Passes;

/// <summary>Hooks called around every pass a <see cref="PassManager"/> runs (dumps, timing, logging).</summary>
public interface IPassInstrument
{
    /// <summary>Called before <paramref name="pass"/> runs on <paramref name="graph"/>.</summary>
    void BeforePass(IPass pass, Graph graph, PassContext context);

    /// <summary>Called after <paramref name="pass"/> turned <paramref name="before"/> into <paramref name="after"/>.</summary>
    void AfterPass(IPass pass, Graph before, Graph after, PassRecord record, PassContext context);
}
