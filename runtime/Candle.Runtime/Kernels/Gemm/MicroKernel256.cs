using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Candle.Runtime.Kernels.Gemm;

/// <summary>The AVX2/FMA register-blocked microkernel: a 4x24 tile of C in 12 ymm accumulators, one broadcast FMA per accumulator and k.</summary>
internal readonly unsafe struct MicroKernel256 : IMicroKernel
{
    public static int MR => 4;

    public static int NR => 24;

    public static int KC => 192;

    public static int MC => 144;

    public static int NC => 4080;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, nint ldc, GemmStoreMode mode, float beta)
    {
        Vector256<float> c00 = default; Vector256<float> c01 = default; Vector256<float> c02 = default;
        Vector256<float> c10 = default; Vector256<float> c11 = default; Vector256<float> c12 = default;
        Vector256<float> c20 = default; Vector256<float> c21 = default; Vector256<float> c22 = default;
        Vector256<float> c30 = default; Vector256<float> c31 = default; Vector256<float> c32 = default;

        if (Sse.IsSupported)
        {
            // The C tile is read after the loop: start bringing it in now.
            Sse.Prefetch0(c);
            Sse.Prefetch0(c + 23);
            Sse.Prefetch0(c + (1 * ldc));
            Sse.Prefetch0(c + (1 * ldc) + 23);
            Sse.Prefetch0(c + (2 * ldc));
            Sse.Prefetch0(c + (2 * ldc) + 23);
            Sse.Prefetch0(c + (3 * ldc));
            Sse.Prefetch0(c + (3 * ldc) + 23);
        }

        int p = 0;
        for (; p + 2 <= kc; p += 2)
        {
            {
                Vector256<float> b0 = Vector256.Load(b + 0);
                Vector256<float> b1 = Vector256.Load(b + 8);
                Vector256<float> b2 = Vector256.Load(b + 16);
                Vector256<float> ai0 = Vector256.Create(a[0]);
                c00 = Vector256.FusedMultiplyAdd(ai0, b0, c00);
                c01 = Vector256.FusedMultiplyAdd(ai0, b1, c01);
                c02 = Vector256.FusedMultiplyAdd(ai0, b2, c02);
                Vector256<float> ai1 = Vector256.Create(a[1]);
                c10 = Vector256.FusedMultiplyAdd(ai1, b0, c10);
                c11 = Vector256.FusedMultiplyAdd(ai1, b1, c11);
                c12 = Vector256.FusedMultiplyAdd(ai1, b2, c12);
                Vector256<float> ai2 = Vector256.Create(a[2]);
                c20 = Vector256.FusedMultiplyAdd(ai2, b0, c20);
                c21 = Vector256.FusedMultiplyAdd(ai2, b1, c21);
                c22 = Vector256.FusedMultiplyAdd(ai2, b2, c22);
                Vector256<float> ai3 = Vector256.Create(a[3]);
                c30 = Vector256.FusedMultiplyAdd(ai3, b0, c30);
                c31 = Vector256.FusedMultiplyAdd(ai3, b1, c31);
                c32 = Vector256.FusedMultiplyAdd(ai3, b2, c32);
            }

            {
                Vector256<float> b0 = Vector256.Load(b + 24);
                Vector256<float> b1 = Vector256.Load(b + 32);
                Vector256<float> b2 = Vector256.Load(b + 40);
                Vector256<float> ai0 = Vector256.Create(a[4]);
                c00 = Vector256.FusedMultiplyAdd(ai0, b0, c00);
                c01 = Vector256.FusedMultiplyAdd(ai0, b1, c01);
                c02 = Vector256.FusedMultiplyAdd(ai0, b2, c02);
                Vector256<float> ai1 = Vector256.Create(a[5]);
                c10 = Vector256.FusedMultiplyAdd(ai1, b0, c10);
                c11 = Vector256.FusedMultiplyAdd(ai1, b1, c11);
                c12 = Vector256.FusedMultiplyAdd(ai1, b2, c12);
                Vector256<float> ai2 = Vector256.Create(a[6]);
                c20 = Vector256.FusedMultiplyAdd(ai2, b0, c20);
                c21 = Vector256.FusedMultiplyAdd(ai2, b1, c21);
                c22 = Vector256.FusedMultiplyAdd(ai2, b2, c22);
                Vector256<float> ai3 = Vector256.Create(a[7]);
                c30 = Vector256.FusedMultiplyAdd(ai3, b0, c30);
                c31 = Vector256.FusedMultiplyAdd(ai3, b1, c31);
                c32 = Vector256.FusedMultiplyAdd(ai3, b2, c32);
            }
            a += 8;
            b += 48;
        }

        for (; p < kc; p++)
        {
            Vector256<float> b0 = Vector256.Load(b + 0);
            Vector256<float> b1 = Vector256.Load(b + 8);
            Vector256<float> b2 = Vector256.Load(b + 16);
            Vector256<float> ai0 = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(ai0, b0, c00);
            c01 = Vector256.FusedMultiplyAdd(ai0, b1, c01);
            c02 = Vector256.FusedMultiplyAdd(ai0, b2, c02);
            Vector256<float> ai1 = Vector256.Create(a[1]);
            c10 = Vector256.FusedMultiplyAdd(ai1, b0, c10);
            c11 = Vector256.FusedMultiplyAdd(ai1, b1, c11);
            c12 = Vector256.FusedMultiplyAdd(ai1, b2, c12);
            Vector256<float> ai2 = Vector256.Create(a[2]);
            c20 = Vector256.FusedMultiplyAdd(ai2, b0, c20);
            c21 = Vector256.FusedMultiplyAdd(ai2, b1, c21);
            c22 = Vector256.FusedMultiplyAdd(ai2, b2, c22);
            Vector256<float> ai3 = Vector256.Create(a[3]);
            c30 = Vector256.FusedMultiplyAdd(ai3, b0, c30);
            c31 = Vector256.FusedMultiplyAdd(ai3, b1, c31);
            c32 = Vector256.FusedMultiplyAdd(ai3, b2, c32);
            a += 4;
            b += 24;
        }

        StoreRow(c + 0 * ldc, c00, c01, c02, mode, beta);
        StoreRow(c + 1 * ldc, c10, c11, c12, mode, beta);
        StoreRow(c + 2 * ldc, c20, c21, c22, mode, beta);
        StoreRow(c + 3 * ldc, c30, c31, c32, mode, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c, Vector256<float> v0, Vector256<float> v1, Vector256<float> v2, GemmStoreMode mode, float beta)
    {
        if (mode == GemmStoreMode.Overwrite)
        {
            v0.Store(c + 0);
            v1.Store(c + 8);
            v2.Store(c + 16);
        }
        else if (mode == GemmStoreMode.Accumulate)
        {
            (v0 + Vector256.Load(c + 0)).Store(c + 0);
            (v1 + Vector256.Load(c + 8)).Store(c + 8);
            (v2 + Vector256.Load(c + 16)).Store(c + 16);
        }
        else
        {
            Vector256<float> vb = Vector256.Create(beta);
            Vector256.FusedMultiplyAdd(vb, Vector256.Load(c + 0), v0).Store(c + 0);
            Vector256.FusedMultiplyAdd(vb, Vector256.Load(c + 8), v1).Store(c + 8);
            Vector256.FusedMultiplyAdd(vb, Vector256.Load(c + 16), v2).Store(c + 16);
        }
    }
}
