using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>Copies between strided views, fills, ranges and gathers, by element size.</summary>
internal static class MemoryKernels
{
    /// <summary>Most dims of a strided copy (after collapsing).</summary>
    public const int MaxRank = 6;

    /// <summary>Copies a strided view into another of the same (padded, collapsed) shape; one thread per element.</summary>
    public static void Copy<T>(
        Index1D index, ArrayView<T> dst, ArrayView<T> src,
        long s0, long s1, long s2, long s3, long s4, long s5,
        long dOff, long d0, long d1, long d2, long d3, long d4, long d5,
        long sOff, long t0, long t1, long t2, long t3, long t4, long t5)
        where T : unmanaged
    {
        _ = s0;
        long i = index.X;
        dst[StridedIndex.Offset(i, s1, s2, s3, s4, s5, dOff, d0, d1, d2, d3, d4, d5)] = src[StridedIndex.Offset(i, s1, s2, s3, s4, s5, sOff, t0, t1, t2, t3, t4, t5)];
    }

    /// <summary>Sets every element to <paramref name="value"/>.</summary>
    public static void Fill<T>(Index1D index, ArrayView<T> y, T value)
        where T : unmanaged => y[index] = value;

    /// <summary>start + i · step in a float storage dtype.</summary>
    public static void ArangeFloat<T, TS>(Index1D index, ArrayView<T> y, float start, float step)
        where T : unmanaged
        where TS : struct, IStorage<T> => default(TS).Store(y, index.X, start + (index.X * step));

    /// <summary>
    /// An int64 tensor of up to six strided dims cast to a dense float tensor (position ids turned into rope angles):
    /// y[i] = (float)x[sOff + Σ c_k · t_k].
    /// </summary>
    public static void CastI64ToFloat<T, TS>(
        Index1D index, ArrayView<T> y, ArrayView<long> x,
        long s1, long s2, long s3, long s4, long s5,
        long sOff, long t0, long t1, long t2, long t3, long t4, long t5)
        where T : unmanaged
        where TS : struct, IStorage<T>
    {
        default(TS).Store(y, index.X, x[StridedIndex.Offset(index.X, s1, s2, s3, s4, s5, sOff, t0, t1, t2, t3, t4, t5)]);
    }

    /// <summary>start + i · step as int64.</summary>
    public static void ArangeI64(Index1D index, ArrayView<long> y, long start, long step) => y[index] = start + (index.X * step);

    /// <summary>start + i · step as int32.</summary>
    public static void ArangeI32(Index1D index, ArrayView<int> y, int start, int step) => y[index] = start + (index.X * step);

    /// <summary>
    /// numpy.take along the middle axis of [outer, axisSize, inner] with int64 indices: y[o, c, r] = x[o, index[c], r].
    /// An index outside 0..axisSize-1 (negative ones too, as the CPU runtime and the reference interpreter reject them)
    /// writes zero and sets <paramref name="error"/>[0].
    /// </summary>
    public static void IndexSelectI64<T>(Index1D i, ArrayView<T> x, ArrayView<long> index, ArrayView<T> y, ArrayView<int> error, long axisSize, long inner, long count)
        where T : unmanaged
    {
        long e = i.X;
        long r = e % inner;
        long rest = e / inner;
        long c = rest % count;
        long o = rest / count;
        long at = index[c];
        if (at < 0 || at >= axisSize)
        {
            y[e] = default;
            Atomic.Or(ref error[0], 1);
            return;
        }

        y[e] = x[(((o * axisSize) + at) * inner) + r];
    }

    /// <summary><see cref="IndexSelectI64{T}"/> with int32 indices.</summary>
    public static void IndexSelectI32<T>(Index1D i, ArrayView<T> x, ArrayView<int> index, ArrayView<T> y, ArrayView<int> error, long axisSize, long inner, long count)
        where T : unmanaged
    {
        long e = i.X;
        long r = e % inner;
        long rest = e / inner;
        long c = rest % count;
        long o = rest / count;
        long at = index[c];
        if (at < 0 || at >= axisSize)
        {
            y[e] = default;
            Atomic.Or(ref error[0], 1);
            return;
        }

        y[e] = x[(((o * axisSize) + at) * inner) + r];
    }
}
