using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Args;
using Candle.Runtime.Threading;

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
        if (dt == DType.F32 && ScatterAddF32(p, x, idx, idt, src, y, xn, inum)) return;
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

    // float32 scatter_add whose index and source match x in every dimension but the axis (embedding and one-hot
    // gradients): split over (outer, column) ranges across the pool. Every element of y still receives its
    // contributions in the serial order (increasing position along the axis), so the result is bit-identical to the
    // serial loop's; only which thread adds them differs.
    private static bool ScatterAddF32(in ScatterAddArgs<long> p, nint x, nint idx, DType idt, nint src, nint y, long xn, long inum)
    {
        ReadOnlySpan<long> xShape = p.XShape.Span, iShape = p.IndexShape.Span, sShape = p.SrcShape.Span;
        int axis = (int)p.Axis;
        long outer = 1, inner = 1;
        for (int d = 0; d < xShape.Length; d++)
        {
            if (iShape[d] != sShape[d] || (d != axis && iShape[d] != xShape[d])) return false;
            if (d < axis) outer *= xShape[d];
            else if (d > axis) inner *= xShape[d];
        }

        if (xn > int.MaxValue || inum > int.MaxValue) return false;
        var body = new ScatterAddF32Body
        {
            X = (float*)x, Y = (float*)y, Src = (float*)src, Idx = idx, IdxType = idt,
            Outer = outer, Inner = inner, XAxis = xShape[axis], IAxis = iShape[axis],
            Columns = (int)Math.Max(1, Math.Min(inner, 64)),
        };
        var pool = KernelPool.Current;
        long units = outer * ((inner + body.Columns - 1) / body.Columns);
        if (x != y)
        {
            var copy = new CopyF32Body { X = (float*)x, Y = (float*)y, N = xn };
            int chunks = (int)((xn + CopyF32Body.Chunk - 1) / CopyF32Body.Chunk);
            if (pool.Threads > 1 && chunks > 1) pool.ParallelFor(chunks, ref copy);
            else copy.Invoke(0, chunks);
        }

        if (units > int.MaxValue) return false;
        if (pool.Threads > 1 && units > 1 && inum >= 16384) pool.ParallelFor((int)units, ref body);
        else body.Invoke(0, (int)units);
        return true;
    }

    private struct CopyF32Body : IParallelBody
    {
        public const long Chunk = 1 << 16;

        public float* X;
        public float* Y;
        public long N;

        public readonly void Invoke(int start, int end)
        {
            long from = start * Chunk, to = Math.Min(N, end * Chunk);
            if (to > from) Buffer.MemoryCopy(X + from, Y + from, (to - from) * sizeof(float), (to - from) * sizeof(float));
        }
    }

    private struct ScatterAddF32Body : IParallelBody
    {
        public float* X;
        public float* Y;
        public float* Src;
        public nint Idx;
        public DType IdxType;
        public long Outer;
        public long Inner;
        public long XAxis;
        public long IAxis;
        public int Columns;

        public readonly void Invoke(int start, int end)
        {
            long groups = (Inner + Columns - 1) / Columns;
            for (int unit = start; unit < end; unit++)
            {
                long o = unit / groups;
                long c0 = unit % groups * Columns, c1 = Math.Min(Inner, c0 + Columns);
                for (long a = 0; a < IAxis; a++)
                {
                    long row = ((o * IAxis) + a) * Inner;
                    for (long c = c0; c < c1; c++)
                    {
                        long i = row + c;
                        long t = Index(Idx, IdxType, i, XAxis, "scatter_add");
                        Y[(((o * XAxis) + t) * Inner) + c] += Src[i];
                    }
                }
            }
        }
    }
}
