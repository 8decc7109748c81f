namespace Candle.Runtime.Kernels.Gemm;

/// <summary>Which SGEMM algorithm runs a problem.</summary>
internal enum SgemmPath
{
    /// <summary>Chosen from the shape: direct for matrix-vector and small problems, packed otherwise.</summary>
    Auto,

    /// <summary>Packed panels and the register-blocked microkernel.</summary>
    Packed,

    /// <summary>Row-by-row products without packing.</summary>
    Direct,
}
