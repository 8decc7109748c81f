using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Args;
using Candle.Runtime.Kernels.Gemm;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// float32 batched matrix product through <see cref="Sgemm"/> (packed panels, register-blocked microkernels,
/// GEMV path for M = 1, its own work split over the pool). Same args as <see cref="MatMulKernel"/>; one work item.
/// Batch dims that are laid out regularly are collapsed into one batched call.
/// </summary>
public static unsafe class SgemmKernel
{
    /// <summary>The kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint[] slots, long[] a, long start, long end)
    {
        if (start >= end) return;
        float* pa = (float*)slots[a[0]], pb = (float*)slots[a[1]], pc = (float*)slots[a[2]];
        long m = a[4], n = a[5], k = a[6];
        var l = BatchedMatMulLayout.Of(a);
        int br = l.Rank;
        int shapeAt = BatchedMatMulLayout.ShapeAt, aOffAt = l.AOffsetAt, aStrAt = l.AStridesAt, aRsAt = l.ARowStrideAt, bOffAt = l.BOffsetAt, bStrAt = l.BStridesAt, bRsAt = l.BRowStrideAt;
        if (m == 0 || n == 0) return;
        if (!FitsInt(m, n, k, a[aRsAt], a[aRsAt + 1], a[bRsAt], a[bRsAt + 1]))
        {
            MatMulKernel.Run(slots, a, 0, Batch(a, shapeAt, br) * m);
            return;
        }

        // Collapse batch dims from the innermost outwards while every operand (C is dense) strides regularly.
        long innerBatch = 1, aInner = 0, bInner = 0;
        int outerDims = br;
        if (br > 0)
        {
            innerBatch = a[shapeAt + br - 1];
            aInner = a[aStrAt + br - 1];
            bInner = a[bStrAt + br - 1];
            outerDims = br - 1;
            while (outerDims > 0)
            {
                int d = outerDims - 1;
                long size = a[shapeAt + d];
                if (size != 1 && (a[aStrAt + d] != aInner * innerBatch || a[bStrAt + d] != bInner * innerBatch)) break;
                innerBatch *= size;
                outerDims--;
            }

            if (innerBatch == 1) aInner = bInner = 0;
        }

        long outer = 1;
        for (int d = 0; d < outerDims; d++) outer *= a[shapeAt + d];
        for (long ob = 0; ob < outer; ob++)
        {
            long aOff = a[aOffAt], bOff = a[bOffAt], rem = ob;
            for (int d = outerDims - 1; d >= 0; d--)
            {
                long size = a[shapeAt + d];
                long ix = rem % size;
                rem /= size;
                aOff += ix * a[aStrAt + d];
                bOff += ix * a[bStrAt + d];
            }

            float* c = pc + (ob * innerBatch * m * n);
            if (k == 0)
            {
                new Span<float>(c, checked((int)(innerBatch * m * n))).Clear();
                continue;
            }

            Sgemm.MultiplyBatched(
                (int)innerBatch, (int)m, (int)n, (int)k,
                pa + aOff, aInner, (int)a[aRsAt], (int)a[aRsAt + 1],
                pb + bOff, bInner, (int)a[bRsAt], (int)a[bRsAt + 1],
                c, m * n, (int)n, pool: KernelPool.Current);
        }
    }

    private static long Batch(long[] a, int shapeAt, int br)
    {
        long b = 1;
        for (int d = 0; d < br; d++) b *= a[shapeAt + d];
        return b;
    }

    private static bool FitsInt(params ReadOnlySpan<long> values)
    {
        foreach (long v in values)
        {
            if (v > int.MaxValue || v < int.MinValue) return false;
        }

        return true;
    }
}
