using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Candle.Runtime.Kernels.Gemm;

/// <summary>The AVX-512 register-blocked microkernel: a 12x32 tile of C in 24 zmm accumulators, one broadcast FMA per accumulator and k.</summary>
internal readonly unsafe struct MicroKernel512 : IMicroKernel
{
    public static int MR => 12;

    public static int NR => 32;

    public static int KC => 256;

    public static int MC => 192;

    public static int NC => 3072;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, nint ldc, GemmStoreMode mode, float beta)
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

        if (Sse.IsSupported)
        {
            // The C tile is read after the loop: start bringing it in now.
            Sse.Prefetch0(c);
            Sse.Prefetch0(c + 31);
            Sse.Prefetch0(c + (1 * ldc));
            Sse.Prefetch0(c + (1 * ldc) + 31);
            Sse.Prefetch0(c + (2 * ldc));
            Sse.Prefetch0(c + (2 * ldc) + 31);
            Sse.Prefetch0(c + (3 * ldc));
            Sse.Prefetch0(c + (3 * ldc) + 31);
            Sse.Prefetch0(c + (4 * ldc));
            Sse.Prefetch0(c + (4 * ldc) + 31);
            Sse.Prefetch0(c + (5 * ldc));
            Sse.Prefetch0(c + (5 * ldc) + 31);
            Sse.Prefetch0(c + (6 * ldc));
            Sse.Prefetch0(c + (6 * ldc) + 31);
            Sse.Prefetch0(c + (7 * ldc));
            Sse.Prefetch0(c + (7 * ldc) + 31);
            Sse.Prefetch0(c + (8 * ldc));
            Sse.Prefetch0(c + (8 * ldc) + 31);
            Sse.Prefetch0(c + (9 * ldc));
            Sse.Prefetch0(c + (9 * ldc) + 31);
            Sse.Prefetch0(c + (10 * ldc));
            Sse.Prefetch0(c + (10 * ldc) + 31);
            Sse.Prefetch0(c + (11 * ldc));
            Sse.Prefetch0(c + (11 * ldc) + 31);
        }

        int p = 0;
        for (; p + 2 <= kc; p += 2)
        {
            {
                Vector512<float> b0 = Vector512.Load(b + 0);
                Vector512<float> b1 = Vector512.Load(b + 16);
                Vector512<float> ai0 = Vector512.Create(a[0]);
                c00 = Vector512.FusedMultiplyAdd(ai0, b0, c00);
                c01 = Vector512.FusedMultiplyAdd(ai0, b1, c01);
                Vector512<float> ai1 = Vector512.Create(a[1]);
                c10 = Vector512.FusedMultiplyAdd(ai1, b0, c10);
                c11 = Vector512.FusedMultiplyAdd(ai1, b1, c11);
                Vector512<float> ai2 = Vector512.Create(a[2]);
                c20 = Vector512.FusedMultiplyAdd(ai2, b0, c20);
                c21 = Vector512.FusedMultiplyAdd(ai2, b1, c21);
                Vector512<float> ai3 = Vector512.Create(a[3]);
                c30 = Vector512.FusedMultiplyAdd(ai3, b0, c30);
                c31 = Vector512.FusedMultiplyAdd(ai3, b1, c31);
                Vector512<float> ai4 = Vector512.Create(a[4]);
                c40 = Vector512.FusedMultiplyAdd(ai4, b0, c40);
                c41 = Vector512.FusedMultiplyAdd(ai4, b1, c41);
                Vector512<float> ai5 = Vector512.Create(a[5]);
                c50 = Vector512.FusedMultiplyAdd(ai5, b0, c50);
                c51 = Vector512.FusedMultiplyAdd(ai5, b1, c51);
                Vector512<float> ai6 = Vector512.Create(a[6]);
                c60 = Vector512.FusedMultiplyAdd(ai6, b0, c60);
                c61 = Vector512.FusedMultiplyAdd(ai6, b1, c61);
                Vector512<float> ai7 = Vector512.Create(a[7]);
                c70 = Vector512.FusedMultiplyAdd(ai7, b0, c70);
                c71 = Vector512.FusedMultiplyAdd(ai7, b1, c71);
                Vector512<float> ai8 = Vector512.Create(a[8]);
                c80 = Vector512.FusedMultiplyAdd(ai8, b0, c80);
                c81 = Vector512.FusedMultiplyAdd(ai8, b1, c81);
                Vector512<float> ai9 = Vector512.Create(a[9]);
                c90 = Vector512.FusedMultiplyAdd(ai9, b0, c90);
                c91 = Vector512.FusedMultiplyAdd(ai9, b1, c91);
                Vector512<float> ai10 = Vector512.Create(a[10]);
                c100 = Vector512.FusedMultiplyAdd(ai10, b0, c100);
                c101 = Vector512.FusedMultiplyAdd(ai10, b1, c101);
                Vector512<float> ai11 = Vector512.Create(a[11]);
                c110 = Vector512.FusedMultiplyAdd(ai11, b0, c110);
                c111 = Vector512.FusedMultiplyAdd(ai11, b1, c111);
            }

            {
                Vector512<float> b0 = Vector512.Load(b + 32);
                Vector512<float> b1 = Vector512.Load(b + 48);
                Vector512<float> ai0 = Vector512.Create(a[12]);
                c00 = Vector512.FusedMultiplyAdd(ai0, b0, c00);
                c01 = Vector512.FusedMultiplyAdd(ai0, b1, c01);
                Vector512<float> ai1 = Vector512.Create(a[13]);
                c10 = Vector512.FusedMultiplyAdd(ai1, b0, c10);
                c11 = Vector512.FusedMultiplyAdd(ai1, b1, c11);
                Vector512<float> ai2 = Vector512.Create(a[14]);
                c20 = Vector512.FusedMultiplyAdd(ai2, b0, c20);
                c21 = Vector512.FusedMultiplyAdd(ai2, b1, c21);
                Vector512<float> ai3 = Vector512.Create(a[15]);
                c30 = Vector512.FusedMultiplyAdd(ai3, b0, c30);
                c31 = Vector512.FusedMultiplyAdd(ai3, b1, c31);
                Vector512<float> ai4 = Vector512.Create(a[16]);
                c40 = Vector512.FusedMultiplyAdd(ai4, b0, c40);
                c41 = Vector512.FusedMultiplyAdd(ai4, b1, c41);
                Vector512<float> ai5 = Vector512.Create(a[17]);
                c50 = Vector512.FusedMultiplyAdd(ai5, b0, c50);
                c51 = Vector512.FusedMultiplyAdd(ai5, b1, c51);
                Vector512<float> ai6 = Vector512.Create(a[18]);
                c60 = Vector512.FusedMultiplyAdd(ai6, b0, c60);
                c61 = Vector512.FusedMultiplyAdd(ai6, b1, c61);
                Vector512<float> ai7 = Vector512.Create(a[19]);
                c70 = Vector512.FusedMultiplyAdd(ai7, b0, c70);
                c71 = Vector512.FusedMultiplyAdd(ai7, b1, c71);
                Vector512<float> ai8 = Vector512.Create(a[20]);
                c80 = Vector512.FusedMultiplyAdd(ai8, b0, c80);
                c81 = Vector512.FusedMultiplyAdd(ai8, b1, c81);
                Vector512<float> ai9 = Vector512.Create(a[21]);
                c90 = Vector512.FusedMultiplyAdd(ai9, b0, c90);
                c91 = Vector512.FusedMultiplyAdd(ai9, b1, c91);
                Vector512<float> ai10 = Vector512.Create(a[22]);
                c100 = Vector512.FusedMultiplyAdd(ai10, b0, c100);
                c101 = Vector512.FusedMultiplyAdd(ai10, b1, c101);
                Vector512<float> ai11 = Vector512.Create(a[23]);
                c110 = Vector512.FusedMultiplyAdd(ai11, b0, c110);
                c111 = Vector512.FusedMultiplyAdd(ai11, b1, c111);
            }
            a += 24;
            b += 64;
        }

        for (; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b + 0);
            Vector512<float> b1 = Vector512.Load(b + 16);
            Vector512<float> ai0 = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(ai0, b0, c00);
            c01 = Vector512.FusedMultiplyAdd(ai0, b1, c01);
            Vector512<float> ai1 = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(ai1, b0, c10);
            c11 = Vector512.FusedMultiplyAdd(ai1, b1, c11);
            Vector512<float> ai2 = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(ai2, b0, c20);
            c21 = Vector512.FusedMultiplyAdd(ai2, b1, c21);
            Vector512<float> ai3 = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(ai3, b0, c30);
            c31 = Vector512.FusedMultiplyAdd(ai3, b1, c31);
            Vector512<float> ai4 = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(ai4, b0, c40);
            c41 = Vector512.FusedMultiplyAdd(ai4, b1, c41);
            Vector512<float> ai5 = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(ai5, b0, c50);
            c51 = Vector512.FusedMultiplyAdd(ai5, b1, c51);
            Vector512<float> ai6 = Vector512.Create(a[6]);
            c60 = Vector512.FusedMultiplyAdd(ai6, b0, c60);
            c61 = Vector512.FusedMultiplyAdd(ai6, b1, c61);
            Vector512<float> ai7 = Vector512.Create(a[7]);
            c70 = Vector512.FusedMultiplyAdd(ai7, b0, c70);
            c71 = Vector512.FusedMultiplyAdd(ai7, b1, c71);
            Vector512<float> ai8 = Vector512.Create(a[8]);
            c80 = Vector512.FusedMultiplyAdd(ai8, b0, c80);
            c81 = Vector512.FusedMultiplyAdd(ai8, b1, c81);
            Vector512<float> ai9 = Vector512.Create(a[9]);
            c90 = Vector512.FusedMultiplyAdd(ai9, b0, c90);
            c91 = Vector512.FusedMultiplyAdd(ai9, b1, c91);
            Vector512<float> ai10 = Vector512.Create(a[10]);
            c100 = Vector512.FusedMultiplyAdd(ai10, b0, c100);
            c101 = Vector512.FusedMultiplyAdd(ai10, b1, c101);
            Vector512<float> ai11 = Vector512.Create(a[11]);
            c110 = Vector512.FusedMultiplyAdd(ai11, b0, c110);
            c111 = Vector512.FusedMultiplyAdd(ai11, b1, c111);
            a += 12;
            b += 32;
        }

        StoreRow(c + 0 * ldc, c00, c01, mode, beta);
        StoreRow(c + 1 * ldc, c10, c11, mode, beta);
        StoreRow(c + 2 * ldc, c20, c21, mode, beta);
        StoreRow(c + 3 * ldc, c30, c31, mode, beta);
        StoreRow(c + 4 * ldc, c40, c41, mode, beta);
        StoreRow(c + 5 * ldc, c50, c51, mode, beta);
        StoreRow(c + 6 * ldc, c60, c61, mode, beta);
        StoreRow(c + 7 * ldc, c70, c71, mode, beta);
        StoreRow(c + 8 * ldc, c80, c81, mode, beta);
        StoreRow(c + 9 * ldc, c90, c91, mode, beta);
        StoreRow(c + 10 * ldc, c100, c101, mode, beta);
        StoreRow(c + 11 * ldc, c110, c111, mode, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c, Vector512<float> v0, Vector512<float> v1, GemmStoreMode mode, float beta)
    {
        if (mode == GemmStoreMode.Overwrite)
        {
            v0.Store(c + 0);
            v1.Store(c + 16);
        }
        else if (mode == GemmStoreMode.Accumulate)
        {
            (v0 + Vector512.Load(c + 0)).Store(c + 0);
            (v1 + Vector512.Load(c + 16)).Store(c + 16);
        }
        else
        {
            Vector512<float> vb = Vector512.Create(beta);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 0), v0).Store(c + 0);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 16), v1).Store(c + 16);
        }
    }
}
