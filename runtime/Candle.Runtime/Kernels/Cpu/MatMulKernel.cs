using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Candle.Runtime.Kernels.Cpu.Args;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// Batched matrix product C[b] = A[b] · B[b] over strided operands (transposes and broadcast batches are strides);
/// arguments: <see cref="BatchedMatMulArgs{T}"/>. C is contiguous [batch, M, N]. Work items are rows of C over all
/// batches (batch·M).
/// </summary>
public static unsafe class MatMulKernel
{
    /// <summary>The kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint[] slots, long[] a, long start, long end)
    {
        var p = BatchedMatMulArgs.Read(a);
        nint pa = slots[p.A], pb = slots[p.B], pc = slots[p.C];
        var dt = (DType)p.DType;
        long m = p.M, n = p.N, k = p.K;
        ReadOnlySpan<long> batchShape = p.BatchShape.Span, aStrides = p.ABatchStrides.Span, bStrides = p.BBatchStrides.Span;
        long ars = p.ARowStride, acs = p.AColStride, brs = p.BRowStride, bcs = p.BColStride;
        for (long row = start; row < end; row++)
        {
            long batch = row / m, i = row - (batch * m);
            long aOff = p.AOffset, bOff = p.BOffset, rem = batch;
            for (int d = batchShape.Length - 1; d >= 0; d--)
            {
                long size = batchShape[d];
                long ix = rem % size;
                rem /= size;
                aOff += ix * aStrides[d];
                bOff += ix * bStrides[d];
            }

            aOff += i * ars;
            long cOff = row * n;
            if (dt == DType.F32)
            {
                RowF32((float*)pa + aOff, acs, (float*)pb + bOff, brs, bcs, (float*)pc + cOff, n, k);
                continue;
            }

            for (long j = 0; j < n; j++)
            {
                double s = 0;
                if (dt.IsFloat())
                {
                    for (long q = 0; q < k; q++) s += ElementIO.Read(pa, dt, aOff + (q * acs)) * ElementIO.Read(pb, dt, bOff + (q * brs) + (j * bcs));
                    ElementIO.Write(pc, dt, cOff + j, s);
                }
                else
                {
                    long si = 0;
                    for (long q = 0; q < k; q++) si = unchecked(si + (ElementIO.ReadInt(pa, dt, aOff + (q * acs)) * ElementIO.ReadInt(pb, dt, bOff + (q * brs) + (j * bcs))));
                    ElementIO.WriteInt(pc, dt, cOff + j, si);
                }
            }
        }
    }

    private static void RowF32(float* arow, long acs, float* b, long brs, long bcs, float* c, long n, long k)
    {
        if (bcs == 1)
        {
            new Span<float>(c, checked((int)n)).Clear();
            for (long q = 0; q < k; q++)
            {
                float av = arow[q * acs];
                var va = Vector256.Create(av);
                float* brow = b + (q * brs);
                long j = 0;
                for (; j + 8 <= n; j += 8) Vector256.FusedMultiplyAdd(va, Vector256.Load(brow + j), Vector256.Load(c + j)).Store(c + j);
                for (; j < n; j++) c[j] = MathF.FusedMultiplyAdd(av, brow[j], c[j]);
            }

            return;
        }

        for (long j = 0; j < n; j++)
        {
            float* bcol = b + (j * bcs);
            float s;
            if (acs == 1 && brs == 1)
            {
                long q = 0;
                var acc = Vector256<float>.Zero;
                for (; q + 8 <= k; q += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(arow + q), Vector256.Load(bcol + q), acc);
                s = Vector256.Sum(acc);
                for (; q < k; q++) s = MathF.FusedMultiplyAdd(arow[q], bcol[q], s);
            }
            else
            {
                s = 0;
                for (long q = 0; q < k; q++) s = MathF.FusedMultiplyAdd(arow[q * acs], bcol[q * brs], s);
            }

            c[j] = s;
        }
    }
}
