using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Args;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// Data-dependent indexing: index_select (numpy take), gather and scatter_add on contiguous tensors. The plan checks
/// the shapes when it binds a step; each index read from an index tensor is checked here, on every call, and one out
/// of range raises an <see cref="IndexOutOfRangeException"/> naming the op, the index and its position.
/// </summary>
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
    /// out[p] = x[p with p[axis] = index[p]]; arguments: <see cref="GatherArgs{T}"/>. Work items are index elements.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Gather(nint[] slots, long[] a, long start, long end)
    {
        var p = GatherArgs.Read(a);
        byte* x = (byte*)slots[p.X];
        int es = (int)p.ElementSize;
        nint idx = slots[p.Index];
        var idt = (DType)p.IndexDType;
        byte* y = (byte*)slots[p.Y];
        int axis = (int)p.Axis;
        ReadOnlySpan<long> xShape = p.XShape.Span, iShape = p.IndexShape.Span;
        for (long i = start; i < end; i++)
        {
            long rem = i, xOff = 0, mul = 1;
            for (int d = iShape.Length - 1; d >= 0; d--)
            {
                long size = iShape[d];
                long ix = rem % size;
                rem /= size;
                if (d == axis) ix = Index(idx, idt, i, xShape[d], "gather");
                xOff += ix * mul;
                mul *= xShape[d];
            }

            Buffer.MemoryCopy(x + (xOff * es), y + (i * es), es, es);
        }
    }

    /// <summary>
    /// out = x; out[p with p[axis] = index[p]] += src[p] for every index position p; arguments:
    /// <see cref="ScatterAddArgs{T}"/>. One work item.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScatterAdd(nint[] slots, long[] a, long start, long end)
    {
        if (start >= end) return;
        var p = ScatterAddArgs.Read(a);
        nint x = slots[p.X], idx = slots[p.Index], src = slots[p.Src], y = slots[p.Y];
        var idt = (DType)p.IndexDType;
        var dt = (DType)p.DType;
        int axis = (int)p.Axis;
        ReadOnlySpan<long> xShape = p.XShape.Span, iShape = p.IndexShape.Span, sShape = p.SrcShape.Span;
        int rank = xShape.Length;
        long xn = 1, inum = 1;
        for (int d = 0; d < rank; d++)
        {
            xn *= xShape[d];
            inum *= iShape[d];
        }

        long es = dt.SizeInBytes();
        Buffer.MemoryCopy((void*)x, (void*)y, xn * es, xn * es);
        for (long i = 0; i < inum; i++)
        {
            long rem = i, yOff = 0, sOff = 0, ymul = 1, smul = 1;
            for (int d = rank - 1; d >= 0; d--)
            {
                long size = iShape[d];
                long ix = rem % size;
                rem /= size;
                sOff += ix * smul;
                smul *= sShape[d];
                if (d == axis) ix = Index(idx, idt, i, xShape[d], "scatter_add");
                yOff += ix * ymul;
                ymul *= xShape[d];
            }

            if (dt.IsFloat()) ElementIO.Write(y, dt, yOff, ElementIO.Read(y, dt, yOff) + ElementIO.Read(src, dt, sOff));
            else ElementIO.WriteInt(y, dt, yOff, unchecked(ElementIO.ReadInt(y, dt, yOff) + ElementIO.ReadInt(src, dt, sOff)));
        }
    }
}
