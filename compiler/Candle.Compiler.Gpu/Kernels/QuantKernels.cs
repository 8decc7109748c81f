using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Products with weights kept in ggml blocks (<see cref="IQuantFormat"/>: Q8_0, Q4_0, Q4_K), read as stored: the
/// decode GEMV (<see cref="Gemv{TQ, TR}"/>), the dequantization of a whole matrix for products over many rows
/// (<see cref="Dequantize{TQ}"/>, then the dense GEMM) and the embedding lookup (<see cref="Embedding{TQ, TI, TIS}"/>).
/// Activations and results are float32, sums are float32.
/// </summary>
internal static class QuantKernels
{
    /// <summary>Activation rows one GEMV group computes (four accumulators per thread).</summary>
    public const int GemvRows = 4;

    /// <summary>
    /// y[r, c] = Σₖ x[r, k] · w[c, k] for up to <see cref="GemvRows"/> activation rows per group: group g computes
    /// weight row c = g mod n for rows 4·(g / n).. of x; its threads walk the row's units of eight weights (consecutive
    /// threads, consecutive bytes), each dequantized once and multiplied with every activation row, and the sums are
    /// reduced over the group. x is dense [rows, k] from element <paramref name="xOff"/>; y dense [rows, n].
    /// </summary>
    public static void Gemv<TQ, TR>(ArrayView<ushort> w, ArrayView<float> x, ArrayView<float> y, int n, int k, int rows, long xOff)
        where TQ : struct, IQuantFormat
        where TR : struct, IGroupReducer
    {
        var q = default(TQ);
        int col = Grid.IdxX % n;
        int r0 = (Grid.IdxX / n) * GemvRows;
        int rc = Math.Min(GemvRows, rows - r0);
        int blocks = k / q.BlockWeights;
        int units = blocks * q.Units;
        int blockWords = q.BlockBytes / 2;
        long rowBase = (long)col * blocks * blockWords;
        long x0 = xOff + ((long)r0 * k);
        float a0 = 0f, a1 = 0f, a2 = 0f, a3 = 0f;
        for (int u = Group.IdxX; u < units; u += Group.DimX)
        {
            int b = u / q.Units;
            var v = q.Unit(w, rowBase + ((long)b * blockWords), u - (b * q.Units));
            long pa = x0 + ((long)b * q.BlockWeights) + v.P0;
            long pb = x0 + ((long)b * q.BlockWeights) + v.P1;
            a0 += Dot(v, x, pa, pb);
            if (rc > 1) a1 += Dot(v, x, pa + k, pb + k);
            if (rc > 2) a2 += Dot(v, x, pa + (2L * k), pb + (2L * k));
            if (rc > 3) a3 += Dot(v, x, pa + (3L * k), pb + (3L * k));
        }

        var reducer = default(TR);
        a0 = reducer.Sum(a0);
        if (rc > 1) a1 = reducer.Sum(a1);
        if (rc > 2) a2 = reducer.Sum(a2);
        if (rc > 3) a3 = reducer.Sum(a3);
        if (Group.IdxX != 0) return;
        long o = ((long)r0 * n) + col;
        y[o] = a0;
        if (rc > 1) y[o + n] = a1;
        if (rc > 2) y[o + (2L * n)] = a2;
        if (rc > 3) y[o + (3L * n)] = a3;
    }

    private static float Dot(QuantUnit v, ArrayView<float> x, long pa, long pb) =>
        (v.A0 * x[pa]) + (v.A1 * x[pa + 1]) + (v.A2 * x[pa + 2]) + (v.A3 * x[pa + 3])
        + (v.B0 * x[pb]) + (v.B1 * x[pb + 1]) + (v.B2 * x[pb + 2]) + (v.B3 * x[pb + 3]);

    /// <summary>The float32 values of every block (row-major, as ggml dequantizes a row): one thread per unit of eight weights.</summary>
    public static void Dequantize<TQ>(Index1D i, ArrayView<ushort> w, ArrayView<float> y)
        where TQ : struct, IQuantFormat
    {
        var q = default(TQ);
        long b = i.X / q.Units;
        var v = q.Unit(w, b * (q.BlockBytes / 2), (int)(i.X - (b * q.Units)));
        Store(v, y, b * q.BlockWeights);
    }

    private static void Store(QuantUnit v, ArrayView<float> y, long at)
    {
        long pa = at + v.P0, pb = at + v.P1;
        y[pa] = v.A0;
        y[pa + 1] = v.A1;
        y[pa + 2] = v.A2;
        y[pa + 3] = v.A3;
        y[pb] = v.B0;
        y[pb + 1] = v.B1;
        y[pb + 2] = v.B2;
        y[pb + 3] = v.B3;
    }

    /// <summary>
    /// y[p, :] = the dequantized row ids[p] of w [rows, cols]: one thread per unit of eight weights of each position;
    /// an id outside 0..rows−1 writes zeros (the unit's positions read from block 0) and sets <paramref name="error"/>[0];
    /// int64 or int32 ids (<typeparamref name="TIS"/>).
    /// </summary>
    public static void Embedding<TQ, TI, TIS>(Index1D i, ArrayView<ushort> w, ArrayView<TI> ids, ArrayView<float> y, ArrayView<int> error, int rows, int cols)
        where TQ : struct, IQuantFormat
        where TI : unmanaged
        where TIS : struct, IIndexStorage<TI>
    {
        var q = default(TQ);
        long rowUnits = (long)(cols / q.BlockWeights) * q.Units;
        long p = i.X / rowUnits;
        long u = i.X - (p * rowUnits);
        long b = u / q.Units;
        long id = default(TIS).Load(ids, p);
        long at = (p * cols) + (b * q.BlockWeights);
        bool valid = id >= 0 && id < rows;
        long block = valid ? ((id * (cols / q.BlockWeights)) + b) * (q.BlockBytes / 2) : 0;
        var v = q.Unit(w, block, (int)(u - (b * q.Units)));
        if (!valid)
        {
            v.A0 = v.A1 = v.A2 = v.A3 = v.B0 = v.B1 = v.B2 = v.B3 = 0f;
            Atomic.Or(ref error[0], 1);
        }

        Store(v, y, at);
    }
}
