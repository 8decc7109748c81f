using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Args;
using Candle.Runtime.Kernels.Gemm;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// float32 batched matrix product through <see cref="Sgemm"/> (packed panels, register-blocked microkernels,
/// GEMV path for M = 1, its own work split over the pool); arguments: <see cref="BatchedMatMulArgs{T}"/>, as for
/// <see cref="MatMulKernel"/>. One work item.
/// Batch dims that are laid out regularly are collapsed into one batched call.
/// </summary>
public static unsafe class SgemmKernel
{
    /// <summary>The kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint[] slots, long[] a, long start, long end)
    {
        if (start >= end) return;
        var p = BatchedMatMulArgs.Read(a);
        float* pa = (float*)slots[p.A], pb = (float*)slots[p.B], pc = (float*)slots[p.C];
        long m = p.M, n = p.N, k = p.K;
        ReadOnlySpan<long> batchShape = p.BatchShape.Span, aStrides = p.ABatchStrides.Span, bStrides = p.BBatchStrides.Span;
        int br = batchShape.Length;
        if (m == 0 || n == 0) return;
        if (!FitsInt(m, n, k, p.ARowStride, p.AColStride, p.BRowStride, p.BColStride))
        {
            MatMulKernel.Run(slots, a, 0, Batch(batchShape) * m);
            return;
        }

        // Collapse batch dims from the innermost outwards while every operand (C is dense) strides regularly.
        long innerBatch = 1, aInner = 0, bInner = 0;
        int outerDims = br;
        if (br > 0)
        {
            innerBatch = batchShape[br - 1];
            aInner = aStrides[br - 1];
            bInner = bStrides[br - 1];
            outerDims = br - 1;
            while (outerDims > 0)
            {
                int d = outerDims - 1;
                long size = batchShape[d];
                if (size != 1 && (aStrides[d] != aInner * innerBatch || bStrides[d] != bInner * innerBatch)) break;
                innerBatch *= size;
                outerDims--;
            }

            if (innerBatch == 1) aInner = bInner = 0;
        }

        long outer = 1;
        for (int d = 0; d < outerDims; d++) outer *= batchShape[d];
        var pool = KernelPool.Current;
        long total = outer * innerBatch;
        if (outer > 1 && k > 0 && pool.Threads > 1 && total >= pool.Threads && total <= int.MaxValue && m * n * k < 128L * 128 * 128)
        {
            // Many small products over batch dims that do not collapse (attention's per batch and head products in
            // the backward pass, over transposed views): one parallel loop over all of them, each product on one
            // thread, rather than one batch of them after another.
            var body = new ProductsBody
            {
                A = pa, B = pb, C = pc, Args = a, Pool = pool, InnerBatch = innerBatch, AInner = aInner, BInner = bInner, OuterDims = outerDims,
            };
            pool.ParallelFor((int)total, ref body);
            return;
        }

        for (long ob = 0; ob < outer; ob++)
        {
            long aOff = p.AOffset, bOff = p.BOffset, rem = ob;
            for (int d = outerDims - 1; d >= 0; d--)
            {
                long size = batchShape[d];
                long ix = rem % size;
                rem /= size;
                aOff += ix * aStrides[d];
                bOff += ix * bStrides[d];
            }

            float* c = pc + (ob * innerBatch * m * n);
            if (k == 0)
            {
                new Span<float>(c, checked((int)(innerBatch * m * n))).Clear();
                continue;
            }

            Sgemm.MultiplyBatched(
                (int)innerBatch, (int)m, (int)n, (int)k,
                pa + aOff, aInner, (int)p.ARowStride, (int)p.AColStride,
                pb + bOff, bInner, (int)p.BRowStride, (int)p.BColStride,
                c, m * n, (int)n, pool: pool);
        }
    }

    private struct ProductsBody : Threading.IParallelBody
    {
        public float* A;
        public float* B;
        public float* C;
        public long[] Args;
        public Threading.WorkerPool Pool;
        public long InnerBatch;
        public long AInner;
        public long BInner;
        public int OuterDims;

        public readonly void Invoke(int start, int end)
        {
            var p = BatchedMatMulArgs.Read(Args);
            ReadOnlySpan<long> batchShape = p.BatchShape.Span, aStrides = p.ABatchStrides.Span, bStrides = p.BBatchStrides.Span;
            long m = p.M, n = p.N, k = p.K;
            for (long i = start; i < end; i++)
            {
                long ob = i / InnerBatch, ib = i % InnerBatch;
                long aOff = p.AOffset + (ib * AInner), bOff = p.BOffset + (ib * BInner), rem = ob;
                for (int d = OuterDims - 1; d >= 0; d--)
                {
                    long size = batchShape[d];
                    long ix = rem % size;
                    rem /= size;
                    aOff += ix * aStrides[d];
                    bOff += ix * bStrides[d];
                }

                Sgemm.Multiply(
                    (int)m, (int)n, (int)k,
                    A + aOff, (int)p.ARowStride, (int)p.AColStride,
                    B + bOff, (int)p.BRowStride, (int)p.BColStride,
                    C + (i * m * n), (int)n, pool: Pool);
            }
        }
    }

    private static long Batch(ReadOnlySpan<long> batchShape)
    {
        long b = 1;
        foreach (long d in batchShape) b *= d;
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
