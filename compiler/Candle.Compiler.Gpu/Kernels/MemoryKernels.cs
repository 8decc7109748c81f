using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>Copies between strided views, fills, ranges and gathers, by element size.</summary>
internal static class MemoryKernels
{
    /// <summary>Most dims of a strided copy (after collapsing).</summary>
    public const int MaxRank = 6;

    /// <summary>Most elements of a <see cref="Copy{T}"/> thread (16 bytes of them along a unit-stride inner dim).</summary>
    public const int CopyBytesPerThread = 16;

    /// <summary>
    /// Copies a strided view into another of the same (padded, collapsed) shape [s0, s1, s2, s3, s4, inner]: each
    /// thread takes <paramref name="vec"/> consecutive elements of one row along the inner dim (several where both
    /// views are unit-stride there), and its row's coordinates are found once for both views in 32-bit arithmetic
    /// with the divisions by <see cref="FastDivmod"/> multipliers (<paramref name="chunks"/> threads per row, then
    /// s4 … s1); offsets are 64-bit multiply-adds. The launch covers rows · chunks threads (fewer than 2³¹).
    /// </summary>
    public static void Copy<T>(
        Index1D index, ArrayView<T> dst, ArrayView<T> src, int inner, int vec,
        int chunks, uint mc, int hc, int s4, uint m4, int h4, int s3, uint m3, int h3, int s2, uint m2, int h2, int s1, uint m1, int h1,
        long dOff, long d0, long d1, long d2, long d3, long d4, long d5,
        long sOff, long t0, long t1, long t2, long t3, long t4, long t5)
        where T : unmanaged
    {
        int idx = index.X;
        int row = FastDivmod.Divide(idx, mc, hc);
        int col = (idx - (row * chunks)) * vec;
        int q4 = FastDivmod.Divide(row, m4, h4);
        int c4 = row - (q4 * s4);
        int q3 = FastDivmod.Divide(q4, m3, h3);
        int c3 = q4 - (q3 * s3);
        int q2 = FastDivmod.Divide(q3, m2, h2);
        int c2 = q3 - (q2 * s2);
        int c0 = FastDivmod.Divide(q2, m1, h1);
        int c1 = q2 - (c0 * s1);
        long dBase = dOff + (c0 * d0) + (c1 * d1) + (c2 * d2) + (c3 * d3) + (c4 * d4);
        long sBase = sOff + (c0 * t0) + (c1 * t1) + (c2 * t2) + (c3 * t3) + (c4 * t4);
        int end = Math.Min(inner, col + vec);
        for (int e = col; e < end; e++) dst[dBase + (e * d5)] = src[sBase + (e * t5)];
    }

    /// <summary>Edge of a <see cref="Transpose{T}"/> tile.</summary>
    public const int TransposeTile = 32;

    /// <summary>Rows of a <see cref="Transpose{T}"/> group (each thread moves <see cref="TransposeTile"/> / this elements a pass).</summary>
    public const int TransposeRows = 8;

    /// <summary>
    /// A copy whose source is unit-stride along one dim (p) and whose destination is unit-stride along another (i), as
    /// a tiled transpose through shared memory: group (x, y, z) reads an edge² tile of (p, i) (edge the group's x size, at
    /// most <see cref="TransposeTile"/>) with
    /// consecutive threads along p (the source's contiguous dim) and writes it with consecutive threads along i (the
    /// destination's), at batch z over up to four other dims (b0..b3, b0 implied by the grid; the divisions by
    /// <see cref="FastDivmod"/> multipliers). Both passes are coalesced;
    /// the strides themselves are free (any views copy correctly).
    /// </summary>
    public static void Transpose<T>(
        ArrayView<T> dst, ArrayView<T> src, int np, int ni, int b1, uint m1, int h1, int b2, uint m2, int h2, int b3, uint m3, int h3,
        long dOff, long dp, long di, long d0, long d1, long d2, long d3,
        long sOff, long tp, long ti, long t0, long t1, long t2, long t3)
        where T : unmanaged
    {
        const int Stride = TransposeTile + 1;
        var tile = SharedMemory.Allocate<T>(TransposeTile * Stride);
        int tx = Group.IdxX, ty = Group.IdxY, edge = Group.DimX, rows = Group.DimY;
        int p0 = Grid.IdxY * edge, i0 = Grid.IdxX * edge;
        int z = Grid.IdxZ;
        int q3 = FastDivmod.Divide(z, m3, h3);
        int c3 = z - (q3 * b3);
        int q2 = FastDivmod.Divide(q3, m2, h2);
        int c2 = q3 - (q2 * b2);
        int c0 = FastDivmod.Divide(q2, m1, h1);
        int c1 = q2 - (c0 * b1);
        long dBase = dOff + (c0 * d0) + (c1 * d1) + (c2 * d2) + (c3 * d3);
        long sBase = sOff + (c0 * t0) + (c1 * t1) + (c2 * t2) + (c3 * t3);
        int p = p0 + tx;
        for (int y = ty; y < edge; y += rows)
        {
            int i = i0 + y;
            if (p < np && i < ni) tile[(y * Stride) + tx] = src[sBase + (p * tp) + (i * ti)];
        }

        Group.Barrier();
        int iw = i0 + tx;
        for (int y = ty; y < edge; y += rows)
        {
            int pw = p0 + y;
            if (pw < np && iw < ni) dst[dBase + (pw * dp) + (iw * di)] = tile[(tx * Stride) + y];
        }
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
