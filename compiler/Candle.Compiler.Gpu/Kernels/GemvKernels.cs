using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Matrix products with few rows (a decode step's activations) against a weight stored as [n, k] rows (nn.Linear's
/// layout): memory-bound, so each weight row is read once, in pairs of elements per load, by one group that reduces
/// its dot products with every activation row at once.
/// </summary>
internal static class GemvKernels
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
