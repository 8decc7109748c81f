namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>c ? a : b (c nonzero picks a); kernels special-case it.</summary>
public readonly struct WhereOp : IElementwiseOp
{
    /// <inheritdoc/>
    public static int Code => 39;

    /// <inheritdoc/>
    public static string Name => "where";
}
