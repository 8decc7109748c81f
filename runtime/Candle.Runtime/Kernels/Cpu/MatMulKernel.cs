using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Candle.Runtime.Kernels.Cpu.Args;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// Batched matrix product C[b] = A[b] · B[b] over strided operands (transposes and broadcast batches are strides).
/// Args: <c>aSlot, bSlot, cSlot, dtype, M, N, K, batchRank, batchShape[br], aOffset, aBatchStrides[br], aRowStride,
/// aColStride, bOffset, bBatchStrides[br], bRowStride, bColStride</c> (in elements); C is contiguous [batch, M, N].
/// Work items are rows of C over all batches (batch·M).
/// </summary>
public static unsafe class MatMulKernel
{
    /// <summary>The kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint[] slots, long[] a, long start, long end)
    {
        nint pa = slots[a[0]], pb = slots[a[1]], pc = slots[a[2]];
        var dt = (DType)a[3];
        long m = a[4], n = a[5], k = a[6];
        var l = BatchedMatMulLayout.Of(a);
        int br = l.Rank;
        int shapeAt = BatchedMatMulLayout.ShapeAt, aOffAt = l.AOffsetAt, aStrAt = l.AStridesAt, aRsAt = l.ARowStrideAt, bOffAt = l.BOffsetAt, bStrAt = l.BStridesAt, bRsAt = l.BRowStrideAt;
        long ars = a[aRsAt], acs = a[aRsAt + 1], brs = a[bRsAt], bcs = a[bRsAt + 1];
        for (long row = start; row < end; row++)
        {
            long batch = row / m, i = row - (batch * m);
            long aOff = a[aOffAt], bOff = a[bOffAt], rem = batch;
            for (int d = br - 1; d >= 0; d--)
            {
                long size = a[shapeAt + d];
                long ix = rem % size;
                rem /= size;
                aOff += ix * a[aStrAt + d];
                bOff += ix * a[bStrAt + d];
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
