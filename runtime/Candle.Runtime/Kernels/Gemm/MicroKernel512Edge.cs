using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Candle.Runtime.Kernels.Gemm;

/// <summary>
/// The edge tiles of <see cref="MicroKernel512"/>'s panels: a tile of at most 12 rows and 32 columns computed with only
/// the accumulators it needs (4, 8 or 12 rows; one or two vectors of columns) and written straight into C with masked
/// loads and stores, instead of the full 12x32 tile into a scratch tile copied element by element.
/// </summary>
internal static unsafe class MicroKernel512Edge
{
    /// <summary>The tile's static extent: at most <see cref="Rows"/> rows; two vectors of columns or one.</summary>
    private interface IShape
    {
        static abstract int Rows { get; }

        static abstract bool Wide { get; }
    }

    /// <summary>
    /// Multiplies the packed panels (A in groups of 12 values, B in rows of 32, as <see cref="MicroKernel512.Run"/>)
    /// and stores the first <paramref name="rows"/> x <paramref name="cols"/> values of the product into C.
    /// </summary>
    public static void Run(int kc, float* a, float* b, float* c, nint ldc, GemmStoreMode mode, float beta, int rows, int cols)
    {
        if (cols <= 16)
        {
            if (rows <= 4) Run<R4N16>(kc, a, b, c, ldc, mode, beta, rows, cols);
            else if (rows <= 8) Run<R8N16>(kc, a, b, c, ldc, mode, beta, rows, cols);
            else Run<R12N16>(kc, a, b, c, ldc, mode, beta, rows, cols);
        }
        else
        {
            if (rows <= 4) Run<R4N32>(kc, a, b, c, ldc, mode, beta, rows, cols);
            else if (rows <= 8) Run<R8N32>(kc, a, b, c, ldc, mode, beta, rows, cols);
            else Run<R12N32>(kc, a, b, c, ldc, mode, beta, rows, cols);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run<TShape>(int kc, float* a, float* b, float* c, nint ldc, GemmStoreMode mode, float beta, int rows, int cols)
        where TShape : struct, IShape
    {
        Vector512<float> c00 = default; Vector512<float> c01 = default;
        Vector512<float> c10 = default; Vector512<float> c11 = default;
        Vector512<float> c20 = default; Vector512<float> c21 = default;
        Vector512<float> c30 = default; Vector512<float> c31 = default;
        Vector512<float> c40 = default; Vector512<float> c41 = default;
        Vector512<float> c50 = default; Vector512<float> c51 = default;
        Vector512<float> c60 = default; Vector512<float> c61 = default;
        Vector512<float> c70 = default; Vector512<float> c71 = default;
        Vector512<float> c80 = default; Vector512<float> c81 = default;
        Vector512<float> c90 = default; Vector512<float> c91 = default;
        Vector512<float> c100 = default; Vector512<float> c101 = default;
        Vector512<float> c110 = default; Vector512<float> c111 = default;

        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b);
            Vector512<float> b1 = TShape.Wide ? Vector512.Load(b + 16) : default;
            {
                Vector512<float> a0 = Vector512.Create(a[0]);
                c00 = Vector512.FusedMultiplyAdd(a0, b0, c00);
                if (TShape.Wide) c01 = Vector512.FusedMultiplyAdd(a0, b1, c01);
                Vector512<float> a1 = Vector512.Create(a[1]);
                c10 = Vector512.FusedMultiplyAdd(a1, b0, c10);
                if (TShape.Wide) c11 = Vector512.FusedMultiplyAdd(a1, b1, c11);
                Vector512<float> a2 = Vector512.Create(a[2]);
                c20 = Vector512.FusedMultiplyAdd(a2, b0, c20);
                if (TShape.Wide) c21 = Vector512.FusedMultiplyAdd(a2, b1, c21);
                Vector512<float> a3 = Vector512.Create(a[3]);
                c30 = Vector512.FusedMultiplyAdd(a3, b0, c30);
                if (TShape.Wide) c31 = Vector512.FusedMultiplyAdd(a3, b1, c31);
                if (TShape.Rows > 4)
                {
                    Vector512<float> a4 = Vector512.Create(a[4]);
                    c40 = Vector512.FusedMultiplyAdd(a4, b0, c40);
                    if (TShape.Wide) c41 = Vector512.FusedMultiplyAdd(a4, b1, c41);
                    Vector512<float> a5 = Vector512.Create(a[5]);
                    c50 = Vector512.FusedMultiplyAdd(a5, b0, c50);
                    if (TShape.Wide) c51 = Vector512.FusedMultiplyAdd(a5, b1, c51);
                    Vector512<float> a6 = Vector512.Create(a[6]);
                    c60 = Vector512.FusedMultiplyAdd(a6, b0, c60);
                    if (TShape.Wide) c61 = Vector512.FusedMultiplyAdd(a6, b1, c61);
                    Vector512<float> a7 = Vector512.Create(a[7]);
                    c70 = Vector512.FusedMultiplyAdd(a7, b0, c70);
                    if (TShape.Wide) c71 = Vector512.FusedMultiplyAdd(a7, b1, c71);
                }
                if (TShape.Rows > 8)
                {
                    Vector512<float> a8 = Vector512.Create(a[8]);
                    c80 = Vector512.FusedMultiplyAdd(a8, b0, c80);
                    if (TShape.Wide) c81 = Vector512.FusedMultiplyAdd(a8, b1, c81);
                    Vector512<float> a9 = Vector512.Create(a[9]);
                    c90 = Vector512.FusedMultiplyAdd(a9, b0, c90);
                    if (TShape.Wide) c91 = Vector512.FusedMultiplyAdd(a9, b1, c91);
                    Vector512<float> a10 = Vector512.Create(a[10]);
                    c100 = Vector512.FusedMultiplyAdd(a10, b0, c100);
                    if (TShape.Wide) c101 = Vector512.FusedMultiplyAdd(a10, b1, c101);
                    Vector512<float> a11 = Vector512.Create(a[11]);
                    c110 = Vector512.FusedMultiplyAdd(a11, b0, c110);
                    if (TShape.Wide) c111 = Vector512.FusedMultiplyAdd(a11, b1, c111);
                }
            }

            a += 12;
            b += 32;
        }

        Vector512<int> lanes = Vector512.CreateSequence(0, 1);
        Vector512<float> m0 = Vector512.LessThan(lanes, Vector512.Create(cols)).AsSingle();
        Vector512<float> m1 = Vector512.LessThan(lanes, Vector512.Create(cols - 16)).AsSingle();
        StoreRow(c, c00, c01, m0, m1, mode, beta, TShape.Wide);
        if (rows > 1) StoreRow(c + (1 * ldc), c10, c11, m0, m1, mode, beta, TShape.Wide);
        if (rows > 2) StoreRow(c + (2 * ldc), c20, c21, m0, m1, mode, beta, TShape.Wide);
        if (rows > 3) StoreRow(c + (3 * ldc), c30, c31, m0, m1, mode, beta, TShape.Wide);
        if (rows > 4) StoreRow(c + (4 * ldc), c40, c41, m0, m1, mode, beta, TShape.Wide);
        if (rows > 5) StoreRow(c + (5 * ldc), c50, c51, m0, m1, mode, beta, TShape.Wide);
        if (rows > 6) StoreRow(c + (6 * ldc), c60, c61, m0, m1, mode, beta, TShape.Wide);
        if (rows > 7) StoreRow(c + (7 * ldc), c70, c71, m0, m1, mode, beta, TShape.Wide);
        if (rows > 8) StoreRow(c + (8 * ldc), c80, c81, m0, m1, mode, beta, TShape.Wide);
        if (rows > 9) StoreRow(c + (9 * ldc), c90, c91, m0, m1, mode, beta, TShape.Wide);
        if (rows > 10) StoreRow(c + (10 * ldc), c100, c101, m0, m1, mode, beta, TShape.Wide);
        if (rows > 11) StoreRow(c + (11 * ldc), c110, c111, m0, m1, mode, beta, TShape.Wide);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c, Vector512<float> v0, Vector512<float> v1, Vector512<float> m0, Vector512<float> m1, GemmStoreMode mode, float beta, bool wide)
    {
        if (mode == GemmStoreMode.Accumulate)
        {
            v0 += Avx512F.MaskLoad(c, m0, Vector512<float>.Zero);
            if (wide) v1 += Avx512F.MaskLoad(c + 16, m1, Vector512<float>.Zero);
        }
        else if (mode != GemmStoreMode.Overwrite)
        {
            Vector512<float> vb = Vector512.Create(beta);
            v0 = Vector512.FusedMultiplyAdd(vb, Avx512F.MaskLoad(c, m0, Vector512<float>.Zero), v0);
            if (wide) v1 = Vector512.FusedMultiplyAdd(vb, Avx512F.MaskLoad(c + 16, m1, Vector512<float>.Zero), v1);
        }

        Avx512F.MaskStore(c, m0, v0);
        if (wide) Avx512F.MaskStore(c + 16, m1, v1);
    }

    private readonly struct R4N16 : IShape
    {
        public static int Rows => 4;

        public static bool Wide => false;
    }

    private readonly struct R8N16 : IShape
    {
        public static int Rows => 8;

        public static bool Wide => false;
    }

    private readonly struct R12N16 : IShape
    {
        public static int Rows => 12;

        public static bool Wide => false;
    }

    private readonly struct R4N32 : IShape
    {
        public static int Rows => 4;

        public static bool Wide => true;
    }

    private readonly struct R8N32 : IShape
    {
        public static int Rows => 8;

        public static bool Wide => true;
    }

    private readonly struct R12N32 : IShape
    {
        public static int Rows => 12;

        public static bool Wide => true;
    }
}
