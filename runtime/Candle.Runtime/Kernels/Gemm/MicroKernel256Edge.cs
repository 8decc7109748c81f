using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Candle.Runtime.Kernels.Gemm;

/// <summary>
/// The edge tiles of <see cref="MicroKernel256"/>'s panels: a tile of at most 4 rows and 24 columns computed with only
/// the column vectors it needs (one, two or three of eight floats) and written straight into C with masked loads and
/// stores (AVX), instead of the full 4x24 tile into a scratch tile copied element by element.
/// </summary>
internal static unsafe class MicroKernel256Edge
{
    /// <summary>The tile's static extent: how many vectors of eight columns it computes.</summary>
    private interface IWidth
    {
        static abstract int Vectors { get; }
    }

    /// <summary>
    /// Multiplies the packed panels (A in groups of 4 values, B in rows of 24, as <see cref="MicroKernel256.Run"/>)
    /// and stores the first <paramref name="rows"/> x <paramref name="cols"/> values of the product into C.
    /// </summary>
    public static void Run(int kc, float* a, float* b, float* c, nint ldc, GemmStoreMode mode, float beta, int rows, int cols)
    {
        if (cols <= 8) Run<W8>(kc, a, b, c, ldc, mode, beta, rows, cols);
        else if (cols <= 16) Run<W16>(kc, a, b, c, ldc, mode, beta, rows, cols);
        else Run<W24>(kc, a, b, c, ldc, mode, beta, rows, cols);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run<TWidth>(int kc, float* a, float* b, float* c, nint ldc, GemmStoreMode mode, float beta, int rows, int cols)
        where TWidth : struct, IWidth
    {
        Vector256<float> c00 = default; Vector256<float> c01 = default; Vector256<float> c02 = default;
        Vector256<float> c10 = default; Vector256<float> c11 = default; Vector256<float> c12 = default;
        Vector256<float> c20 = default; Vector256<float> c21 = default; Vector256<float> c22 = default;
        Vector256<float> c30 = default; Vector256<float> c31 = default; Vector256<float> c32 = default;
        int nr = MicroKernel256.NR;
        for (int p = 0; p < kc; p++)
        {
            Vector256<float> b0 = Vector256.Load(b);
            Vector256<float> b1 = TWidth.Vectors > 1 ? Vector256.Load(b + 8) : default;
            Vector256<float> b2 = TWidth.Vectors > 2 ? Vector256.Load(b + 16) : default;
            Vector256<float> a0 = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(a0, b0, c00);
            if (TWidth.Vectors > 1) c01 = Vector256.FusedMultiplyAdd(a0, b1, c01);
            if (TWidth.Vectors > 2) c02 = Vector256.FusedMultiplyAdd(a0, b2, c02);
            Vector256<float> a1 = Vector256.Create(a[1]);
            c10 = Vector256.FusedMultiplyAdd(a1, b0, c10);
            if (TWidth.Vectors > 1) c11 = Vector256.FusedMultiplyAdd(a1, b1, c11);
            if (TWidth.Vectors > 2) c12 = Vector256.FusedMultiplyAdd(a1, b2, c12);
            Vector256<float> a2 = Vector256.Create(a[2]);
            c20 = Vector256.FusedMultiplyAdd(a2, b0, c20);
            if (TWidth.Vectors > 1) c21 = Vector256.FusedMultiplyAdd(a2, b1, c21);
            if (TWidth.Vectors > 2) c22 = Vector256.FusedMultiplyAdd(a2, b2, c22);
            Vector256<float> a3 = Vector256.Create(a[3]);
            c30 = Vector256.FusedMultiplyAdd(a3, b0, c30);
            if (TWidth.Vectors > 1) c31 = Vector256.FusedMultiplyAdd(a3, b1, c31);
            if (TWidth.Vectors > 2) c32 = Vector256.FusedMultiplyAdd(a3, b2, c32);
            a += 4;
            b += nr;
        }

        Vector256<int> lanes = Vector256.CreateSequence(0, 1);
        Vector256<float> m0 = Vector256.LessThan(lanes, Vector256.Create(cols)).AsSingle();
        Vector256<float> m1 = Vector256.LessThan(lanes, Vector256.Create(cols - 8)).AsSingle();
        Vector256<float> m2 = Vector256.LessThan(lanes, Vector256.Create(cols - 16)).AsSingle();
        StoreRow<TWidth>(c, c00, c01, c02, m0, m1, m2, mode, beta);
        if (rows > 1) StoreRow<TWidth>(c + (1 * ldc), c10, c11, c12, m0, m1, m2, mode, beta);
        if (rows > 2) StoreRow<TWidth>(c + (2 * ldc), c20, c21, c22, m0, m1, m2, mode, beta);
        if (rows > 3) StoreRow<TWidth>(c + (3 * ldc), c30, c31, c32, m0, m1, m2, mode, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TWidth>(
        float* c, Vector256<float> v0, Vector256<float> v1, Vector256<float> v2,
        Vector256<float> m0, Vector256<float> m1, Vector256<float> m2, GemmStoreMode mode, float beta)
        where TWidth : struct, IWidth
    {
        if (mode == GemmStoreMode.Accumulate)
        {
            v0 += Avx.MaskLoad(c, m0);
            if (TWidth.Vectors > 1) v1 += Avx.MaskLoad(c + 8, m1);
            if (TWidth.Vectors > 2) v2 += Avx.MaskLoad(c + 16, m2);
        }
        else if (mode != GemmStoreMode.Overwrite)
        {
            Vector256<float> vb = Vector256.Create(beta);
            v0 = Vector256.FusedMultiplyAdd(vb, Avx.MaskLoad(c, m0), v0);
            if (TWidth.Vectors > 1) v1 = Vector256.FusedMultiplyAdd(vb, Avx.MaskLoad(c + 8, m1), v1);
            if (TWidth.Vectors > 2) v2 = Vector256.FusedMultiplyAdd(vb, Avx.MaskLoad(c + 16, m2), v2);
        }

        Avx.MaskStore(c, m0, v0);
        if (TWidth.Vectors > 1) Avx.MaskStore(c + 8, m1, v1);
        if (TWidth.Vectors > 2) Avx.MaskStore(c + 16, m2, v2);
    }

    private readonly struct W8 : IWidth
    {
        public static int Vectors => 1;
    }

    private readonly struct W16 : IWidth
    {
        public static int Vectors => 2;
    }

    private readonly struct W24 : IWidth
    {
        public static int Vectors => 3;
    }
}
