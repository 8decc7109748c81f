using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Matrix products with few rows (a decode step's activations) against a weight stored as [n, k] rows (nn.Linear's
/// layout): memory-bound, so each weight row is read once, in pairs of elements per load, by one group that reduces
/// its dot products with every activation row at once.
/// </summary>
internal static partial class GemvKernels
{
    /// <summary>Most activation rows one launch takes.</summary>
    public const int MaxRows = 4;

    /// <summary>Threads of the group that reads one weight row.</summary>
    public const int GroupSize = 128;

    /// <summary>
    /// c[r, j] = Σ_i a[r, i] · b[j, i] for r &lt; <paramref name="rows"/> (at most <see cref="MaxRows"/>) and the
    /// weight row j = the group index: the group's threads stride over the row two elements at a time
    /// (<see cref="IPairStorage{T}"/>; <paramref name="k"/>, <paramref name="bOff"/> and <paramref name="bN"/> even),
    /// f32 accumulation, one group reduction per activation row. a is [rows, k] with row stride <paramref name="aM"/>
    /// (elements contiguous) from <paramref name="aOff"/>; b's row j starts at <paramref name="bOff"/> + j ·
    /// <paramref name="bN"/>; c is dense [rows, n].
    /// </summary>
    public static void Gemv<TA, TAS, TB, TBS, TC, TCS, TR>(
        ArrayView<TA> a, ArrayView<TB> b, ArrayView<TC> c, int rows, int n, int k, long aOff, long aM, long bOff, long bN)
        where TA : unmanaged
        where TAS : struct, IStorage<TA>
        where TB : unmanaged
        where TBS : struct, IPairStorage<TB>
        where TC : unmanaged
        where TCS : struct, IStorage<TC>
        where TR : struct, IGroupReducer
    {
        int col = Grid.IdxX;
        int t = Group.IdxX, step = 2 * Group.DimX;
        var sa = default(TAS);
        var sb = default(TBS);
        long w = bOff + ((long)col * bN);
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        for (int i = 2 * t; i < k; i += step)
        {
            var (w0, w1) = sb.LoadPair(b, w + i);
            long x = aOff + i;
            s0 += (sa.Load(a, x) * w0) + (sa.Load(a, x + 1) * w1);
            if (rows > 1)
            {
                x += aM;
                s1 += (sa.Load(a, x) * w0) + (sa.Load(a, x + 1) * w1);
                if (rows > 2)
                {
                    x += aM;
                    s2 += (sa.Load(a, x) * w0) + (sa.Load(a, x + 1) * w1);
                    if (rows > 3)
                    {
                        x += aM;
                        s3 += (sa.Load(a, x) * w0) + (sa.Load(a, x + 1) * w1);
                    }
                }
            }
        }

        var r = default(TR);
        var sc = default(TCS);
        s0 = r.Sum(s0);
        if (t == 0) sc.Store(c, col, s0);
        if (rows > 1)
        {
            s1 = r.Sum(s1);
            if (t == 0) sc.Store(c, (long)n + col, s1);
        }

        if (rows > 2)
        {
            s2 = r.Sum(s2);
            if (t == 0) sc.Store(c, (2L * n) + col, s2);
        }

        if (rows > 3)
        {
            s3 = r.Sum(s3);
            if (t == 0) sc.Store(c, (3L * n) + col, s3);
        }
    }

    /// <summary>Weight rows one group of <see cref="WarpRowsGroupSize"/> threads takes in <see cref="GemvWarps"/>: one per warp.</summary>
    public const int WarpRowsGroupSize = 128;

    /// <summary>
    /// The same product for 16-bit weights read 16 bytes (eight elements) per load: each warp of the group takes one
    /// weight row, its lanes stride over the row's <see cref="Quad"/>s, and the dot products are reduced by warp shuffles
    /// alone (no shared memory, no group barrier). b is the weight memory viewed as <see cref="Quad"/>s, 16-byte aligned;
    /// weight row j starts at element <paramref name="bOff"/> + j · <paramref name="bN"/> (both, and
    /// <paramref name="k"/>, multiples of 8); the rest as in <see cref="Gemv"/>.
    /// </summary>
    public static void GemvWarps<TA, TAS, TW, TC, TCS>(
        ArrayView<TA> a, ArrayView<Quad> b, ArrayView<TC> c, int rows, int n, int k, long aOff, long aM, long bOff, long bN)
        where TA : unmanaged
        where TAS : struct, IStorage<TA>
        where TW : struct, IWordPairs
        where TC : unmanaged
        where TCS : struct, IStorage<TC>
    {
        int col = (Grid.IdxX * (Group.DimX / Warp.WarpSize)) + Warp.WarpIdx;
        if (col >= n) return;
        int lane = Warp.LaneIdx;
        var sa = default(TAS);
        var sw = default(TW);
        long w = (bOff + ((long)col * bN)) >> 3;
        int quads = k >> 3;
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        for (int q = lane; q < quads; q += Warp.WarpSize)
        {
            var v = b[w + q];
            var (w0, w1) = sw.Widen(v.X);
            var (w2, w3) = sw.Widen(v.Y);
            var (w4, w5) = sw.Widen(v.Z);
            var (w6, w7) = sw.Widen(v.W);
            long x = aOff + (8L * q);
            s0 += Dot8(a, sa, x, w0, w1, w2, w3, w4, w5, w6, w7);
            if (rows > 1)
            {
                x += aM;
                s1 += Dot8(a, sa, x, w0, w1, w2, w3, w4, w5, w6, w7);
                if (rows > 2)
                {
                    x += aM;
                    s2 += Dot8(a, sa, x, w0, w1, w2, w3, w4, w5, w6, w7);
                    if (rows > 3)
                    {
                        x += aM;
                        s3 += Dot8(a, sa, x, w0, w1, w2, w3, w4, w5, w6, w7);
                    }
                }
            }
        }

        s0 = WarpSum(s0);
        if (lane == 0) default(TCS).Store(c, col, s0);
        if (rows > 1)
        {
            s1 = WarpSum(s1);
            if (lane == 0) default(TCS).Store(c, (long)n + col, s1);
        }

        if (rows > 2)
        {
            s2 = WarpSum(s2);
            if (lane == 0) default(TCS).Store(c, (2L * n) + col, s2);
        }

        if (rows > 3)
        {
            s3 = WarpSum(s3);
            if (lane == 0) default(TCS).Store(c, (3L * n) + col, s3);
        }
    }

    /// <summary>Weight rows one warp of <see cref="GemvQuads"/> takes.</summary>
    public const int QuadRowsPerWarp = 2;

    /// <summary>
    /// The few-row product with 16-bit activations and weights of one dtype, both read 16 bytes (eight elements) per
    /// load: each warp of the group takes <see cref="QuadRowsPerWarp"/> weight rows, and each lane loads two
    /// <see cref="Quad"/>s of each row (a warp's stride apart) before it uses any, so four weight loads per lane are in
    /// flight, with the activation quads reused for both rows; the dot products are reduced by warp shuffles. Offsets
    /// and strides are in quads: activation row r starts at quad <paramref name="aOff"/> + r · <paramref name="aM"/>,
    /// weight row j at <paramref name="bOff"/> + j · <paramref name="bN"/>, each row <paramref name="quads"/> long; c is
    /// dense [rows, n] (at most <see cref="MaxRows"/> rows).
    /// </summary>
    public static void GemvQuads<TW, TC, TCS>(
        ArrayView<Quad> a, ArrayView<Quad> b, ArrayView<TC> c, int rows, int n, int quads, long aOff, long aM, long bOff, long bN)
        where TW : struct, IWordPairs
        where TC : unmanaged
        where TCS : struct, IStorage<TC>
        => Quads<TW, TC, TCS>(a, b, c, rows, n, quads, aOff, aM, bOff, bN, 2);

    /// <summary>Quads of each weight row a lane of <see cref="GemvQuadsDeep"/> loads before it uses any.</summary>
    public const int DeepQuadsPerLane = 4;

    /// <summary>
    /// <see cref="GemvQuads{TW, TC, TCS}"/> with <see cref="DeepQuadsPerLane"/> quads of each of the warp's two weight
    /// rows loaded per lane before any is used (eight weight loads in flight a lane instead of four), for products with
    /// few weight rows, where too few warps are resident to keep the memory busy with four: a row of k = 2048 is then
    /// two steps of a warp instead of four. The arguments are those of <see cref="GemvQuads{TW, TC, TCS}"/>.
    /// </summary>
    public static void GemvQuadsDeep<TW, TC, TCS>(
        ArrayView<Quad> a, ArrayView<Quad> b, ArrayView<TC> c, int rows, int n, int quads, long aOff, long aM, long bOff, long bN)
        where TW : struct, IWordPairs
        where TC : unmanaged
        where TCS : struct, IStorage<TC>
        => Quads<TW, TC, TCS>(a, b, c, rows, n, quads, aOff, aM, bOff, bN, DeepQuadsPerLane);

    /// <summary>
    /// The body of <see cref="GemvQuads{TW, TC, TCS}"/> (<paramref name="depth"/> 2) and of
    /// <see cref="GemvQuadsDeep{TW, TC, TCS}"/> (<paramref name="depth"/> 4): each lane loads <paramref name="depth"/>
    /// quads of both weight rows, a warp's width apart, before it uses any.
    /// </summary>
    private static void Quads<TW, TC, TCS>(
        ArrayView<Quad> a, ArrayView<Quad> b, ArrayView<TC> c, int rows, int n, int quads, long aOff, long aM, long bOff, long bN, int depth)
        where TW : struct, IWordPairs
        where TC : unmanaged
        where TCS : struct, IStorage<TC>
    {
        int col0 = QuadRowsPerWarp * ((Grid.IdxX * (Group.DimX / Warp.WarpSize)) + Warp.WarpIdx);
        if (col0 >= n) return;
        int col1 = col0 + 1 < n ? col0 + 1 : col0;
        int lane = Warp.LaneIdx;
        var s = PairRange<TW>(a, b, rows, 0, quads, aOff, aM, bOff + ((long)col0 * bN), bOff + ((long)col1 * bN), depth);
        StorePair<TC, TCS>(c, 0, col0, col1, s.R00, s.R01, lane);
        if (rows > 1) StorePair<TC, TCS>(c, n, col0, col1, s.R10, s.R11, lane);
        if (rows > 2) StorePair<TC, TCS>(c, 2L * n, col0, col1, s.R20, s.R21, lane);
        if (rows > 3) StorePair<TC, TCS>(c, 3L * n, col0, col1, s.R30, s.R31, lane);
    }

    /// <summary>
    /// One lane's share of the dot products of up to <see cref="MaxRows"/> activation rows (row r from quad
    /// <paramref name="aOff"/> + r · <paramref name="aM"/>) with two weight rows (from quads <paramref name="w0"/> and
    /// <paramref name="w1"/>) over the quads [<paramref name="start"/>, <paramref name="end"/>) of the rows: the lanes of
    /// the warp stride over the range, each loading <paramref name="depth"/> quads of both weight rows, a warp's width
    /// apart, before it uses any. The sums are the lane's own; the warp reduces them.
    /// </summary>
    private static PairSums PairRange<TW>(
        ArrayView<Quad> a, ArrayView<Quad> b, int rows, int start, int end, long aOff, long aM, long w0, long w1, int depth)
        where TW : struct, IWordPairs
    {
        int width = Warp.WarpSize;
        float s00 = 0f, s01 = 0f, s10 = 0f, s11 = 0f, s20 = 0f, s21 = 0f, s30 = 0f, s31 = 0f;
        for (int q = start + Warp.LaneIdx; q < end; q += depth * width)
        {
            // Quads q, q + width (and q + 2·width, q + 3·width at depth 4) of both rows; one past the range (or past the
            // depth) is loaded again at q and not counted.
            int p1 = q + width, p2 = p1 + width, p3 = p2 + width;
            bool h1 = p1 < end, h2 = depth > 2 && p2 < end, h3 = depth > 2 && p3 < end;
            if (!h1) p1 = q;
            if (!h2) p2 = q;
            if (!h3) p3 = q;
            var u0 = b[w0 + q];
            var u1 = b[w1 + q];
            var v0 = b[w0 + p1];
            var v1 = b[w1 + p1];
            var x0 = default(Quad);
            var x1 = default(Quad);
            var y0 = default(Quad);
            var y1 = default(Quad);
            if (depth > 2)
            {
                x0 = b[w0 + p2];
                x1 = b[w1 + p2];
                y0 = b[w0 + p3];
                y1 = b[w1 + p3];
            }

            var (d0, d1) = FourQuads<TW>(a, aOff, q, p1, p2, p3, h1, h2, h3, u0, u1, v0, v1, x0, x1, y0, y1);
            s00 += d0;
            s01 += d1;
            if (rows > 1)
            {
                long x = aOff + aM;
                (d0, d1) = FourQuads<TW>(a, x, q, p1, p2, p3, h1, h2, h3, u0, u1, v0, v1, x0, x1, y0, y1);
                s10 += d0;
                s11 += d1;
                if (rows > 2)
                {
                    x += aM;
                    (d0, d1) = FourQuads<TW>(a, x, q, p1, p2, p3, h1, h2, h3, u0, u1, v0, v1, x0, x1, y0, y1);
                    s20 += d0;
                    s21 += d1;
                    if (rows > 3)
                    {
                        x += aM;
                        (d0, d1) = FourQuads<TW>(a, x, q, p1, p2, p3, h1, h2, h3, u0, u1, v0, v1, x0, x1, y0, y1);
                        s30 += d0;
                        s31 += d1;
                    }
                }
            }
        }

        return new PairSums(s00, s01, s10, s11, s20, s21, s30, s31);
    }

    /// <summary>
    /// The activation row at quad <paramref name="x"/>'s dot products with two weight rows over the four quads of a
    /// <see cref="GemvQuadsDeep"/> step (those past the row, <paramref name="h1"/>..<paramref name="h3"/> false, not counted).
    /// </summary>
    private static (float Row0, float Row1) FourQuads<TW>(
        ArrayView<Quad> a, long x, int q, int p1, int p2, int p3, bool h1, bool h2, bool h3,
        Quad u0, Quad u1, Quad v0, Quad v1, Quad x0, Quad x1, Quad y0, Quad y1)
        where TW : struct, IWordPairs
    {
        var (r0, r1) = TwoRows<TW>(a[x + q], a[x + p1], h1, u0, u1, v0, v1);
        if (h2)
        {
            var (t0, t1) = TwoRows<TW>(a[x + p2], a[x + p3], h3, x0, x1, y0, y1);
            r0 += t0;
            r1 += t1;
        }

        return (r0, r1);
    }

    /// <summary>One activation row's dot products with two weight rows over two quads (the second counted when <paramref name="two"/>).</summary>
    private static (float Row0, float Row1) TwoRows<TW>(Quad x, Quad y, bool two, Quad u0, Quad u1, Quad v0, Quad v1)
        where TW : struct, IWordPairs
    {
        float r0 = Dot<TW>(x, u0), r1 = Dot<TW>(x, u1);
        if (two)
        {
            r0 += Dot<TW>(y, v0);
            r1 += Dot<TW>(y, v1);
        }

        return (r0, r1);
    }

    /// <summary>The dot product of eight 16-bit elements with eight others.</summary>
    private static float Dot<TW>(Quad x, Quad w)
        where TW : struct, IWordPairs
    {
        var s = default(TW);
        var (x0, x1) = s.Widen(x.X);
        var (w0, w1) = s.Widen(w.X);
        var (x2, x3) = s.Widen(x.Y);
        var (w2, w3) = s.Widen(w.Y);
        var (x4, x5) = s.Widen(x.Z);
        var (w4, w5) = s.Widen(w.Z);
        var (x6, x7) = s.Widen(x.W);
        var (w6, w7) = s.Widen(w.W);
        return (x0 * w0) + (x1 * w1) + (x2 * w2) + (x3 * w3) + (x4 * w4) + (x5 * w5) + (x6 * w6) + (x7 * w7);
    }

    /// <summary>Reduces a warp's two row sums and stores them from lane 0 at <paramref name="row"/> + col0 and + col1 (once where they are one column).</summary>
    private static void StorePair<TC, TCS>(ArrayView<TC> c, long row, int col0, int col1, float s0, float s1, int lane)
        where TC : unmanaged
        where TCS : struct, IStorage<TC>
    {
        s0 = WarpSum(s0);
        s1 = WarpSum(s1);
        if (lane != 0) return;
        default(TCS).Store(c, row + col0, s0);
        if (col1 != col0) default(TCS).Store(c, row + col1, s1);
    }

    private static float Dot8<TA, TAS>(ArrayView<TA> a, TAS sa, long x, float w0, float w1, float w2, float w3, float w4, float w5, float w6, float w7)
        where TA : unmanaged
        where TAS : struct, IStorage<TA> =>
        (sa.Load(a, x) * w0) + (sa.Load(a, x + 1) * w1) + (sa.Load(a, x + 2) * w2) + (sa.Load(a, x + 3) * w3)
        + (sa.Load(a, x + 4) * w4) + (sa.Load(a, x + 5) * w5) + (sa.Load(a, x + 6) * w6) + (sa.Load(a, x + 7) * w7);

    private static float WarpSum(float value)
    {
        for (int o = Warp.WarpSize / 2; o > 0; o /= 2) value += Warp.ShuffleXor(value, o);
        return value;
    }
}
