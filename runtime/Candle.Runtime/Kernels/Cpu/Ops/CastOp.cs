namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>Conversion to the output dtype (floats to integers truncate toward zero); kernels special-case it.</summary>
public readonly struct CastOp : IElementwiseOp
{
    /// <inheritdoc/>
    public static int Code => 21;

    /// <inheritdoc/>
    public static string Name => "cast";
}
