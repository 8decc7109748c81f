using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Candle.Runtime.Kernels.Gemm;

/// <summary>The SGEMM microkernel families.</summary>
internal enum SgemmKernelKind
{
    /// <summary>Portable scalar code.</summary>
    Scalar,

    /// <summary>256-bit vectors with FMA (AVX2).</summary>
    Vector256,

    /// <summary>512-bit vectors (AVX-512F).</summary>
    Vector512,
}

/// <summary>Chooses the best microkernel family the processor supports.</summary>
internal static class SgemmKernelSelector
{
    /// <summary>The family used by the public entry points.</summary>
    public static SgemmKernelKind Best { get; } =
        Avx512F.IsSupported && Vector512.IsHardwareAccelerated ? SgemmKernelKind.Vector512
        : Fma.IsSupported && Avx2.IsSupported ? SgemmKernelKind.Vector256
        : SgemmKernelKind.Scalar;

    /// <summary>The B panel width of a family.</summary>
    public static int PanelWidth(SgemmKernelKind kind) => kind switch
    {
        SgemmKernelKind.Vector512 => MicroKernel512.NR,
        SgemmKernelKind.Vector256 => MicroKernel256.NR,
        _ => MicroKernelScalar.NR,
    };

    /// <summary>
    /// The columns a tile at C's right edge is computed in multiples of: the edge microkernels compute only the vectors
    /// of columns the tile needs (<see cref="MicroKernel512Edge"/>, <see cref="MicroKernel256Edge"/>); the scalar
    /// kernel computes a whole panel.
    /// </summary>
    public static int EdgeWidth(SgemmKernelKind kind) => kind switch
    {
        SgemmKernelKind.Vector512 => 16,
        SgemmKernelKind.Vector256 => 8,
        _ => MicroKernelScalar.NR,
    };

    /// <summary>The A panel height of a family (the microkernel's MR).</summary>
    public static int PanelHeight(SgemmKernelKind kind) => kind switch
    {
        SgemmKernelKind.Vector512 => MicroKernel512.MR,
        SgemmKernelKind.Vector256 => MicroKernel256.MR,
        _ => MicroKernelScalar.MR,
    };

    /// <summary>A short description of a family's microkernel, such as <c>avx2 6x16</c>.</summary>
    public static string Describe(SgemmKernelKind kind) => kind switch
    {
        SgemmKernelKind.Vector512 => $"avx512 {MicroKernel512.MR}x{MicroKernel512.NR}",
        SgemmKernelKind.Vector256 => $"avx2 {MicroKernel256.MR}x{MicroKernel256.NR}",
        _ => $"scalar {MicroKernelScalar.MR}x{MicroKernelScalar.NR}",
    };
}
