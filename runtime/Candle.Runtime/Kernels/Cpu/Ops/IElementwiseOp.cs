namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>
/// An elementwise op as the runtime knows it: its code (what saved plans store for the scalar fallback kernel,
/// unique across <see cref="ElementwiseOps"/>) and its printed name. Math ops go on to
/// <see cref="IUnaryOp"/> or <see cref="IBinaryOp"/>; cast and where only have a code.
/// </summary>
public interface IElementwiseOp
{
    /// <summary>The op's runtime code.</summary>
    static abstract int Code { get; }

    /// <summary>The lower-case name (the IR prints ops by it).</summary>
    static abstract string Name { get; }
}
