namespace Candle.Runtime.Kernels.Gemm;

/// <summary>How a microkernel combines its product with the C tile already in memory.</summary>
internal enum GemmStoreMode
{
    /// <summary>C = AB; C is not read.</summary>
    Overwrite,

    /// <summary>C = AB + C.</summary>
    Accumulate,

    /// <summary>C = AB + beta * C.</summary>
    Scale,
}
