using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>Reads of an int64 or int32 index tensor as 64-bit integers.</summary>
internal interface IIndexStorage<T>
    where T : unmanaged
{
    long Load(ArrayView<T> view, long i);
}

/// <summary>int64 indices.</summary>
internal readonly struct I64Index : IIndexStorage<long>
{
    public long Load(ArrayView<long> view, long i) => view[i];
}

/// <summary>int32 indices.</summary>
internal readonly struct I32Index : IIndexStorage<int>
{
    public long Load(ArrayView<int> view, long i) => view[i];
}

/// <summary>An atomic y[i] += value of one element type.</summary>
internal interface IAtomicAdd<T>
    where T : unmanaged
{
    void Add(ArrayView<T> y, long i, T value);
}

/// <summary>float32 atomic adds.</summary>
internal readonly struct F32AtomicAdd : IAtomicAdd<float>
{
    public void Add(ArrayView<float> y, long i, float value) => Atomic.Add(ref y[i], value);
}

/// <summary>int64 atomic adds.</summary>
internal readonly struct I64AtomicAdd : IAtomicAdd<long>
{
    public void Add(ArrayView<long> y, long i, long value) => Atomic.Add(ref y[i], value);
}

/// <summary>
/// torch.gather and torch.scatter_add along one axis of dense operands of up to six dims (shapes padded with leading
/// ones). An index outside <c>0..size-1</c> is skipped (gather writes zero) and sets <c>error[0]</c>, which the
/// executor turns into an exception naming the call, as the CPU runtime rejects it.
/// </summary>
internal static class GatherKernels
{
    /// <summary>Dims of the padded shapes.</summary>
    public const int Rank = 6;

    /// <summary>
    /// y[p] = x[p with p[axis] = index[p]], one thread per index element; <c>x0..x5</c> is x's shape and
    /// <c>i1..i5</c> the index's (and y's).
    /// </summary>
    public static void Gather<T, TI, SI>(
        Index1D index, ArrayView<T> x, ArrayView<TI> idx, ArrayView<T> y, ArrayView<int> error, int axis,
        long x0, long x1, long x2, long x3, long x4, long x5,
        long i1, long i2, long i3, long i4, long i5)
        where T : unmanaged
        where TI : unmanaged
        where SI : struct, IIndexStorage<TI>
    {
        long e = index.X;
        long at = default(SI).Load(idx, e);
        long axisSize = Size(axis, x0, x1, x2, x3, x4, x5);
        if (at < 0 || at >= axisSize)
        {
            y[e] = default;
            Atomic.Or(ref error[0], 1);
            return;
        }

        y[e] = x[Target(e, at, axis, x1, x2, x3, x4, x5, i1, i2, i3, i4, i5)];
    }

    /// <summary>
    /// y[p with p[axis] = index[p]] += src[p] for every index position p (y already holds x), one thread per index
    /// element, the sums by atomic adds (<see cref="IAtomicAdd{T}"/>); <c>s1..s5</c> is src's shape.
    /// </summary>
    public static void ScatterAdd<T, TA, TI, SI>(
        Index1D index, ArrayView<T> y, ArrayView<TI> idx, ArrayView<T> src, ArrayView<int> error, int axis,
        long x0, long x1, long x2, long x3, long x4, long x5,
        long i1, long i2, long i3, long i4, long i5,
        long s1, long s2, long s3, long s4, long s5)
        where T : unmanaged
        where TA : struct, IAtomicAdd<T>
        where TI : unmanaged
        where SI : struct, IIndexStorage<TI>
    {
        long e = index.X;
        long at = default(SI).Load(idx, e);
        if (at < 0 || at >= Size(axis, x0, x1, x2, x3, x4, x5))
        {
            Atomic.Or(ref error[0], 1);
            return;
        }

        long t = Target(e, at, axis, x1, x2, x3, x4, x5, i1, i2, i3, i4, i5);
        default(TA).Add(y, t, src[Source(e, i1, i2, i3, i4, i5, s1, s2, s3, s4, s5)]);
    }

    private static long Size(int axis, long x0, long x1, long x2, long x3, long x4, long x5) =>
        axis == 0 ? x0 : axis == 1 ? x1 : axis == 2 ? x2 : axis == 3 ? x3 : axis == 4 ? x4 : x5;

    /// <summary>The offset in the dense x (shape x0..x5) of index element e's position with its axis coordinate at.</summary>
    private static long Target(long e, long at, int axis, long x1, long x2, long x3, long x4, long x5, long i1, long i2, long i3, long i4, long i5)
    {
        long c5 = e % i5;
        e /= i5;
        long c4 = e % i4;
        e /= i4;
        long c3 = e % i3;
        e /= i3;
        long c2 = e % i2;
        e /= i2;
        long c1 = e % i1;
        long c0 = e / i1;
        if (axis == 0) c0 = at;
        else if (axis == 1) c1 = at;
        else if (axis == 2) c2 = at;
        else if (axis == 3) c3 = at;
        else if (axis == 4) c4 = at;
        else c5 = at;
        return (((((((((c0 * x1) + c1) * x2) + c2) * x3) + c3) * x4) + c4) * x5) + c5;
    }

    /// <summary>The offset in the dense src (shape s0..s5) of index element e's position.</summary>
    private static long Source(long e, long i1, long i2, long i3, long i4, long i5, long s1, long s2, long s3, long s4, long s5)
    {
        long c5 = e % i5;
        e /= i5;
        long c4 = e % i4;
        e /= i4;
        long c3 = e % i3;
        e /= i3;
        long c2 = e % i2;
        e /= i2;
        long c1 = e % i1;
        long c0 = e / i1;
        return (((((((((c0 * s1) + c1) * s2) + c2) * s3) + c3) * s4) + c4) * s5) + c5;
    }
}
