using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Args;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>Data-dependent indexing: index_select (numpy take), gather and scatter_add on contiguous tensors.</summary>
public static unsafe class GatherKernels
{
    private static long Index(nint idx, DType dt, long i, long size, string op)
    {
        long v = ElementIO.ReadInt(idx, dt, i);
        if (v < 0 || v >= size)
        {
            throw new IndexOutOfRangeException($"{op}: index {v} (at position {i}) is out of range for a dimension of size {size}");
        }

        return v;
    }

    /// <summary>
    /// out[o, j, i] = x[o, index[j], i]; arguments: <see cref="IndexSelectArgs{T}"/>. Work items are (o, j) pairs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void IndexSelect(nint[] slots, long[] a, long start, long end)
    {
        var p = IndexSelectArgs.Read(a);
        byte* x = (byte*)slots[p.X];
        long es = p.ElementSize;
        nint idx = slots[p.Index];
        var idt = (DType)p.IndexDType;
        byte* y = (byte*)slots[p.Y];
        long axisLen = p.AxisLength, inner = p.Inner, count = p.IndexCount;
        long rowBytes = inner * es;
        for (long item = start; item < end; item++)
        {
            long o = item / count, j = item % count;
            long src = Index(idx, idt, j, axisLen, "index_select");
            Buffer.MemoryCopy(x + (((o * axisLen) + src) * rowBytes), y + (item * rowBytes), rowBytes, rowBytes);
        }
    }

    /// <summary>
    /// out[p] = x[p with p[axis] = index[p]]. Args: <c>xSlot, elementSize, indexSlot, indexDType, outSlot, rank, axis,
    /// xShape[rank], indexShape[rank]</c>. Work items are index elements.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Gather(nint[] slots, long[] a, long start, long end)
    {
        byte* x = (byte*)slots[a[0]];
        int es = (int)a[1];
        nint idx = slots[a[2]];
        var idt = (DType)a[3];
        byte* y = (byte*)slots[a[4]];
        int rank = (int)a[5], axis = (int)a[6];
        int xsAt = 7, isAt = 7 + rank;
        for (long i = start; i < end; i++)
        {
            long rem = i, xOff = 0, mul = 1;
            for (int d = rank - 1; d >= 0; d--)
            {
                long size = a[isAt + d];
                long ix = rem % size;
                rem /= size;
                if (d == axis) ix = Index(idx, idt, i, a[xsAt + d], "gather");
                xOff += ix * mul;
                mul *= a[xsAt + d];
            }

            Buffer.MemoryCopy(x + (xOff * es), y + (i * es), es, es);
        }
    }

    /// <summary>
    /// out = x; out[p with p[axis] = index[p]] += src[p] for every index position p. Args: <c>xSlot, indexSlot,
    /// indexDType, srcSlot, outSlot, dtype, rank, axis, xShape[rank], indexShape[rank], srcShape[rank]</c>. One work item.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScatterAdd(nint[] slots, long[] a, long start, long end)
    {
        if (start >= end) return;
        nint x = slots[a[0]], idx = slots[a[1]], src = slots[a[3]], y = slots[a[4]];
        var idt = (DType)a[2];
        var dt = (DType)a[5];
        int rank = (int)a[6], axis = (int)a[7];
        int xsAt = 8, isAt = 8 + rank, ssAt = isAt + rank;
        long xn = 1, inum = 1;
        for (int d = 0; d < rank; d++)
        {
            xn *= a[xsAt + d];
            inum *= a[isAt + d];
        }

        long es = dt.SizeInBytes();
        Buffer.MemoryCopy((void*)x, (void*)y, xn * es, xn * es);
        for (long i = 0; i < inum; i++)
        {
            long rem = i, yOff = 0, sOff = 0, ymul = 1, smul = 1;
            for (int d = rank - 1; d >= 0; d--)
            {
                long size = a[isAt + d];
                long ix = rem % size;
                rem /= size;
                sOff += ix * smul;
                smul *= a[ssAt + d];
                if (d == axis) ix = Index(idx, idt, i, a[xsAt + d], "scatter_add");
                yOff += ix * ymul;
                ymul *= a[xsAt + d];
            }

            if (dt.IsFloat()) ElementIO.Write(y, dt, yOff, ElementIO.Read(y, dt, yOff) + ElementIO.Read(src, dt, sOff));
            else ElementIO.WriteInt(y, dt, yOff, unchecked(ElementIO.ReadInt(y, dt, yOff) + ElementIO.ReadInt(src, dt, sOff)));
        }
    }
}
