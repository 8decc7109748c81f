using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Args;
using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Kernels.Quant;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// Products and lookups over weights stored in ggml blocks (<see cref="QuantizedTensor"/>), read as stored.
/// </summary>
/// <remarks>
/// A product quantizes its activation rows to the weight type's activation format (<see cref="QuantActivations"/>)
/// once per call, then splits the weight rows over the workers of <see cref="KernelPool.Current"/> in contiguous
/// chunks. Q8_0, Q4_0, Q4_K and Q6_K prefill products (from 4 activation rows, on AVX2) pack 8 weight rows at a time into an
/// interleaved panel in a per-worker scratch buffer (<see cref="QuantPanelGemm"/>; the weights themselves stay as stored,
/// so nothing is copied for the whole matrix) and pass every activation row over the panel in register tiles of 4
/// activation rows × 8 weight rows. With <see cref="UsePanels"/> off, and in decode, Q8_0 and Q4_0 weights
/// (<see cref="QuantTileDot"/>) are walked in chunks of <see cref="ChunkRows"/> rows:
/// every activation row passes over a chunk, in register tiles of 4 activation rows × 4 weight rows (the activation
/// rows left over: the 8-row GEMV <see cref="QuantGemv"/>), before the next chunk is read, so the weights are read once
/// per call for any number of rows and no float32 copy of them is made. Decode (fewer than 4 activation rows) runs the GEMV over each worker's whole range of weight rows. Other types with an integer dot product walk tiles of
/// <see cref="TileRows"/> weight rows one pair at a time below <see cref="GemmRows"/> activation rows, and from there
/// dequantize <see cref="GemmTile"/> weight rows at a time into a float32 scratch tile for the SGEMM (freed after the
/// call); of those, Q4_K, Q5_K and Q6_K run the multi-row GEMV <see cref="KQuantGemv"/> there instead of pairs, each
/// activation row passing over the worker's range (one row) or over chunks of <see cref="ChunkRows"/> weight rows. Without AVX2 the tiles and the GEMV are not used: every type with an integer dot product runs the portable
/// single-row dots (<see cref="QuantIsa"/>). Types without one dequantize each weight row once and multiply in float32.
/// </remarks>
public static unsafe class QuantMatMulKernel
{
    private const int TileRows = 16;

    /// <summary>Weight rows every activation row passes over before the next ones are read (tiled types).</summary>
    private const int ChunkRows = 32;

    /// <summary>The number of activation rows from which a product of a type without a tiled kernel goes through the float32 SGEMM.</summary>
    internal const int GemmRows = 32;

    /// <summary>Weight rows dequantized at a time on the SGEMM path.</summary>
    private const int GemmTile = 256;

    /// <summary>
    /// y[m, n] = Σ_k x[m, k]·w[n, k]; arguments: <see cref="QuantMatMulArgs{T}"/>. One work item: the kernel splits the
    /// weight rows over <see cref="KernelPool.Current"/> itself, after quantizing the activations once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint[] slots, long[] a, long start, long end)
    {
        if (start < end) Execute(slots, a, null);
    }

    /// <summary>
    /// Prepares a step: binds its epilogue (<c>rt:quant_matmul@gen:NAME</c>, see <see cref="QuantMatMulArgs{T}"/>),
    /// which runs on each finished tile of the product from the worker's scratch (<see cref="QuantTileEpilogue"/>).
    /// </summary>
    /// <param name="preparation">The step's constant arguments and its epilogue.</param>
    /// <returns>The kernel to call for the step.</returns>
    public static KernelFn Prepare(KernelPreparation preparation)
    {
        ArgumentNullException.ThrowIfNull(preparation);
        var epilogue = preparation.Epilogue;
        if (epilogue is null) return Run;
        return (slots, args, start, end) =>
        {
            if (start < end) Execute(slots, args, epilogue);
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Execute(nint[] slots, long[] a, KernelFn? epilogue)
    {
        var p = QuantMatMulArgs.Read(a);
        var type = (GgmlType)p.Type;
        int rows = (int)p.Rows, n = (int)p.N, k = (int)p.K;
        if (rows == 0 || n == 0) return;
        float* x = (float*)slots[p.X];
        byte* w = (byte*)slots[p.W];
        float* y = (float*)slots[p.Y];
        int rowBytes = (int)QuantMatMulArgs.WeightBytes(p.Type, 1, k);
        var pool = KernelPool.Current;
        var epi = epilogue is null ? null : new QuantTileEpilogue(epilogue, slots, a, (int)QuantMatMulArgs.Product(a), n);
        if (rows >= QuantPanelGemm.ActivationRows && UsePanels && QuantPanelGemm.Supports(type))
        {
            Panels(type, x, w, y, rows, n, k, rowBytes, pool, epi);
            return;
        }

        if (epi is null)
        {
            Unpaneled(type, x, w, y, rows, n, k, rowBytes, pool, null);
            return;
        }

        // The other kernels write whole rows of y: with an epilogue they write a scratch of rows × n (one row per
        // activation row in decode), and each worker runs the epilogue on its range of columns as soon as it is done.
        float[] scratch = ArrayPool<float>.Shared.Rent(checked(rows * n));
        try
        {
            fixed (float* t = scratch)
            {
                Unpaneled(type, x, w, t, rows, n, k, rowBytes, pool, epi);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scratch);
        }
    }

    /// <summary>The product on every path but the panels; with <paramref name="epi"/>, y is a scratch the epilogue reads each range of.</summary>
    private static void Unpaneled(GgmlType type, float* x, byte* w, float* y, int rows, int n, int k, int rowBytes, Threading.WorkerPool pool, QuantTileEpilogue? epi)
    {
        var format = QuantActivations.VecDotType(type);
        if (QuantTileDot.Supports(type) && QuantRowDot.IsAccelerated)
        {
            Tiled(type, x, w, y, rows, n, k, rowBytes, pool, epi);
            return;
        }

        if (rows >= GemmRows)
        {
            DequantizedGemm(type, x, w, y, rows, n, k, rowBytes, pool);
            if (epi is not null) pool.ParallelFor(rows, (s, e) => epi.Apply(y + ((long)s * n), n, s, e - s, 0, n));
            return;
        }

        if (format == GgmlType.F32)
        {
            pool.ParallelFor(n, (s, e) =>
            {
                Dequantized(type, x, w, y, rows, n, k, rowBytes, s, e);
                epi?.Apply(y + s, n, 0, rows, s, e - s);
            });
            return;
        }

        int xRowBytes = QuantActivations.RowBytes(format, k);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(checked(rows * xRowBytes));
        try
        {
            for (int m = 0; m < rows; m++)
            {
                var src = new ReadOnlySpan<float>(x + ((long)m * k), k);
                var dst = buffer.AsSpan(m * xRowBytes, xRowBytes);
                QuantActivations.Quantize(format, src, dst);
            }

            int nb = k / GgmlTypeTraits.BlockSize(type);
            fixed (byte* xq = buffer)
            {
                byte* xqp = xq;
                pool.ParallelFor(n, (s, e) =>
                {
                    Dots(type, xqp, xRowBytes, w, rowBytes, y, rows, n, nb, s, e);
                    epi?.Apply(y + s, n, 0, rows, s, e - s);
                });
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// True (the default) to run the prefill products of Q4_0, Q8_0, Q4_K and Q6_K weights (from <see cref="QuantPanelGemm.ActivationRows"/>
    /// activation rows) on packed panels (<see cref="QuantPanelGemm"/>); false for the kernels they replace (the 4 × 4
    /// tiles of <see cref="QuantTileDot"/> for Q4_0 and Q8_0, the dequantized SGEMM or single-row dots for the k-quants),
    /// kept for side-by-side timings (<c>quant-gemm</c>).
    /// </summary>
    internal static bool UsePanels { get; set; } = true;

    private static void Panels(GgmlType type, float* x, byte* w, float* y, int rows, int n, int k, int rowBytes, Threading.WorkerPool pool, QuantTileEpilogue? epi)
    {
        const int R = QuantPanelGemm.PanelRows;
        var format = QuantActivations.VecDotType(type);
        int nb = k / GgmlTypeTraits.BlockSize(type);
        int xRowBytes = QuantActivations.RowBytes(format, k);
        bool prepare = QuantPanelGemm.NeedsPrepared(type);
        int preparedRow = prepare ? nb * QuantPanelGemm.PreparedIntsPerBlock(type) : 0;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(checked(rows * xRowBytes));
        int[] preparedBuffer = ArrayPool<int>.Shared.Rent(Math.Max(1, checked(rows * preparedRow)));
        try
        {
            fixed (byte* xq = buffer)
            fixed (int* prep = preparedBuffer)
            {
                // The activation rows are quantized once, split over the workers, and shared by every panel.
                byte* xqp = xq;
                int* pp = prep;
                pool.ParallelFor(rows, (s, e) =>
                {
                    for (int m = s; m < e; m++)
                    {
                        QuantActivations.Quantize(format, new ReadOnlySpan<float>(x + ((long)m * k), k), new Span<byte>(xqp + ((long)m * xRowBytes), xRowBytes));
                        if (prepare) QuantPanelGemm.Prepare(type, xqp + ((long)m * xRowBytes), nb, pp + ((long)m * preparedRow));
                    }
                });

                // Each worker packs a panel of 8 weight rows at a time into its own scratch and passes every activation
                // row over it before packing the next; groups of panels are claimed by whichever worker is free.
                int panelsPerItem = PanelBody.PanelsPerItem(epi is not null, (n + R - 1) / R, pool.Threads);
                var body = new PanelBody(type, xq, xRowBytes, prep, preparedRow, w, rowBytes, y, rows, n, nb, epi, panelsPerItem);
                pool.ParallelForDynamic((((n + R - 1) / R) + panelsPerItem - 1) / panelsPerItem, ref body);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            ArrayPool<int>.Shared.Return(preparedBuffer);
        }
    }

    /// <summary>
    /// The panel loop of one product: work item i covers the panels of 8 weight rows [i·panelsPerItem, (i + 1)·panelsPerItem).
    /// With an epilogue, an item's columns of every activation row are computed into the worker's strip (rows ×
    /// panelsPerItem·8) and the epilogue runs on the strip before the next item.
    /// </summary>
    private readonly struct PanelBody(
        GgmlType type, byte* xq, int xRowBytes, int* prepared, int preparedRow, byte* w, int rowBytes, float* y, int rows, int n, int nb, QuantTileEpilogue? epi,
        int panelsPerItem)
        : Threading.IParallelBody
    {
        /// <summary>
        /// Panels per work item: 4 (32 weight rows: the k and v projections of a 1B model still give 8 items); with an
        /// epilogue, up to 16 while every thread still gets two items, since the epilogue is called once per activation
        /// row of an item and a narrow item makes those calls many and short.
        /// </summary>
        public static int PanelsPerItem(bool epilogue, int panels, int threads)
        {
            if (!epilogue) return 4;
            int per = 16;
            while (per > 4 && panels / per < 2 * threads) per /= 2;
            return per;
        }

        public void Invoke(int start, int end)
        {
            if (epi is not null)
            {
                InvokeWithEpilogue(start, end, epi);
                return;
            }

            const int R = QuantPanelGemm.PanelRows, M = QuantPanelGemm.ActivationRows;
            byte[] scratch = ArrayPool<byte>.Shared.Rent((nb * QuantPanelGemm.PackedBlockBytes(type)) + 64);
            try
            {
                fixed (byte* rented = scratch)
                {
                    byte* panel = AlignPanel(rented);
                    int last = Math.Min((n + R - 1) / R, end * panelsPerItem);
                    for (int p = start * panelsPerItem; p < last; p++)
                    {
                        int j = p * R, count = Math.Min(R, n - j);
                        QuantPanelGemm.Pack(type, w + ((long)j * rowBytes), rowBytes, count, nb, panel);
                        for (int m = 0; m < rows; m += M)
                        {
                            QuantPanelGemm.Multiply(type, panel, nb, xq + ((long)m * xRowBytes), xRowBytes, prepared + ((long)m * preparedRow), preparedRow, Math.Min(M, rows - m), y + ((long)m * n) + j, n, count);
                        }
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }
        }

        /// <summary>The first 64-byte boundary at or after <paramref name="p"/>: the panels' 512-bit loads then never straddle cache lines.</summary>
        private static byte* AlignPanel(byte* p) => (byte*)(((nint)p + 63) & ~(nint)63);

        private void InvokeWithEpilogue(int start, int end, QuantTileEpilogue e)
        {
            const int R = QuantPanelGemm.PanelRows, M = QuantPanelGemm.ActivationRows;
            int W = panelsPerItem * R;
            byte[] scratch = ArrayPool<byte>.Shared.Rent((nb * QuantPanelGemm.PackedBlockBytes(type)) + 64);
            float[] strip = ArrayPool<float>.Shared.Rent(checked(rows * W));
            try
            {
                fixed (byte* rented = scratch)
                fixed (float* s = strip)
                {
                    byte* panel = AlignPanel(rented);
                    int panels = (n + R - 1) / R;
                    for (int item = start; item < end; item++)
                    {
                        int p0 = item * panelsPerItem, p1 = Math.Min(panels, p0 + panelsPerItem);
                        if (p0 >= p1) break;
                        int j0 = p0 * R;
                        for (int p = p0; p < p1; p++)
                        {
                            int j = p * R, count = Math.Min(R, n - j);
                            QuantPanelGemm.Pack(type, w + ((long)j * rowBytes), rowBytes, count, nb, panel);
                            for (int m = 0; m < rows; m += M)
                            {
                                QuantPanelGemm.Multiply(type, panel, nb, xq + ((long)m * xRowBytes), xRowBytes, prepared + ((long)m * preparedRow), preparedRow, Math.Min(M, rows - m), s + ((long)m * W) + (j - j0), W, count);
                            }
                        }

                        e.Apply(s, W, 0, rows, j0, Math.Min(n, p1 * R) - j0);
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(scratch);
                ArrayPool<float>.Shared.Return(strip);
            }
        }
    }

    private static void Tiled(GgmlType type, float* x, byte* w, float* y, int rows, int n, int k, int rowBytes, Threading.WorkerPool pool, QuantTileEpilogue? epi)
    {
        int nb = k / 32;
        int xRowBytes = QuantActivations.RowBytes(GgmlType.Q8_0, k);
        bool offsets = QuantTileDot.NeedsOffsets(type);
        int offsetRow = offsets ? nb * 8 : 0;

        // The activation rows the 4 × 4 tiles leave over (all of them in decode) go through the 8-row GEMV where it exists.
        int tiledRows = rows / QuantTileDot.ActivationRows * QuantTileDot.ActivationRows;
        bool gemv = QuantGemv.Supports(type);
        int preparedRow = gemv ? nb * QuantGemv.PreparedInts : 0;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(checked(rows * xRowBytes));
        int[] offsetBuffer = ArrayPool<int>.Shared.Rent(Math.Max(1, checked(rows * offsetRow)));
        int[] preparedBuffer = ArrayPool<int>.Shared.Rent(Math.Max(1, checked((rows - tiledRows) * preparedRow)));
        try
        {
            fixed (byte* xq = buffer)
            fixed (int* off = offsetBuffer)
            fixed (int* prep = preparedBuffer)
            {
                for (int m = 0; m < rows; m++)
                {
                    QuantActivations.QuantizeQ8_0(new ReadOnlySpan<float>(x + ((long)m * k), k), buffer.AsSpan(m * xRowBytes, xRowBytes));
                    if (offsets && m < tiledRows) QuantTileDot.NibbleOffsets(xq + ((long)m * xRowBytes), nb, off + ((long)m * offsetRow));
                    if (gemv && m >= tiledRows) QuantGemv.Prepare(xq + ((long)m * xRowBytes), nb, prep + ((long)(m - tiledRows) * preparedRow));
                }

                var tile = new TileArgs(type, xq, xRowBytes, off, offsetRow, gemv ? prep : null, preparedRow, w, rowBytes, y, rows, n, nb);
                int groups = (n + QuantTileDot.Rows - 1) / QuantTileDot.Rows;
                pool.ParallelFor(groups, (s, e) =>
                {
                    int j0 = s * QuantTileDot.Rows, j1 = Math.Min(n, e * QuantTileDot.Rows);
                    TiledRows(tile, j0, j1);
                    epi?.Apply(tile.Y + j0, n, 0, rows, j0, j1 - j0);
                });
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            ArrayPool<int>.Shared.Return(offsetBuffer);
            ArrayPool<int>.Shared.Return(preparedBuffer);
        }
    }

    /// <summary>The operands of one tiled product (<see cref="Prepared"/>: the GEMV data of the activation rows from the last multiple of 4 on, or null).</summary>
    private readonly struct TileArgs(
        GgmlType type, byte* xq, int xRowBytes, int* offsets, int offsetRow, int* prepared, int preparedRow,
        byte* w, int rowBytes, float* y, int rows, int n, int nb)
    {
        public readonly GgmlType Type = type;
        public readonly byte* Xq = xq;
        public readonly int XRowBytes = xRowBytes;
        public readonly int* Offsets = offsets;
        public readonly int OffsetRow = offsetRow;
        public readonly int* Prepared = prepared;
        public readonly int PreparedRow = preparedRow;
        public readonly byte* W = w;
        public readonly int RowBytes = rowBytes;
        public readonly float* Y = y;
        public readonly int Rows = rows;
        public readonly int N = n;
        public readonly int Nb = nb;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TiledRows(in TileArgs t, int start, int end)
    {
        const int R = QuantTileDot.Rows, M = QuantTileDot.ActivationRows;
        GgmlType type = t.Type;
        byte* xq = t.Xq, w = t.W;
        int* off = t.Offsets;
        float* y = t.Y;
        int rows = t.Rows, n = t.N, nb = t.Nb, rowBytes = t.RowBytes, xRowBytes = t.XRowBytes, offsetRow = t.OffsetRow;
        int tiledRows = rows / M * M;
        if (tiledRows == 0 && t.Prepared != null)
        {
            // Decode: each activation row passes over the worker's whole range of weight rows.
            for (int m = 0; m < rows; m++)
            {
                QuantGemv.Run(type, w + ((long)start * rowBytes), rowBytes, xq + ((long)m * xRowBytes), t.Prepared + ((long)m * t.PreparedRow), nb, y + ((long)m * n) + start, end - start);
            }

            return;
        }

        for (int n0 = start; n0 < end; n0 += ChunkRows)
        {
            int n1 = Math.Min(end, n0 + ChunkRows);
            int full = n0 + ((n1 - n0) / R * R);
            for (int m = 0; m < tiledRows; m += M)
            {
                for (int j = n0; j < full; j += R)
                {
                    QuantTileDot.Tile4x4(type, w + ((long)j * rowBytes), rowBytes, xq + ((long)m * xRowBytes), xRowBytes, off + ((long)m * offsetRow), offsetRow, nb, y + ((long)m * n) + j, n);
                }
            }

            // The activation rows left over: the GEMV over the chunk, or single-row dot products.
            for (int m = tiledRows; m < rows; m++)
            {
                if (t.Prepared != null)
                {
                    QuantGemv.Run(type, w + ((long)n0 * rowBytes), rowBytes, xq + ((long)m * xRowBytes), t.Prepared + ((long)(m - tiledRows) * t.PreparedRow), nb, y + ((long)m * n) + n0, n1 - n0);
                    continue;
                }

                for (int j = n0; j < full; j++)
                {
                    y[((long)m * n) + j] = QuantRowDot.Dot(type, w + ((long)j * rowBytes), xq + ((long)m * xRowBytes), nb);
                }
            }

            // The weight rows left over: one pair at a time (the GEMV rows above already have theirs).
            int last = t.Prepared != null ? tiledRows : rows;
            for (int j = full; j < n1; j++)
            {
                for (int m = 0; m < last; m++)
                {
                    y[((long)m * n) + j] = QuantRowDot.Dot(type, w + ((long)j * rowBytes), xq + ((long)m * xRowBytes), nb);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dots(GgmlType type, byte* xq, int xRowBytes, byte* w, int rowBytes, float* y, int rows, int n, int nb, int start, int end)
    {
        if (KQuantGemv.Supports(type))
        {
            // One activation row passes over the worker's whole range; more pass over chunks of it, read once per chunk.
            int chunk = rows == 1 ? end - start : ChunkRows;
            for (int n0 = start; n0 < end; n0 += chunk)
            {
                int count = Math.Min(end, n0 + chunk) - n0;
                for (int m = 0; m < rows; m++)
                {
                    KQuantGemv.Run(type, w + ((long)n0 * rowBytes), rowBytes, xq + ((long)m * xRowBytes), nb, y + ((long)m * n) + n0, count);
                }
            }

            return;
        }

        for (int n0 = start; n0 < end; n0 += TileRows)
        {
            int n1 = Math.Min(end, n0 + TileRows);
            for (int m = 0; m < rows; m++)
            {
                byte* xm = xq + ((long)m * xRowBytes);
                float* ym = y + ((long)m * n);
                for (int j = n0; j < n1; j++)
                {
                    ym[j] = QuantRowDot.Dot(type, w + ((long)j * rowBytes), xm, nb);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DequantizedGemm(GgmlType type, float* x, byte* w, float* y, int rows, int n, int k, int rowBytes, Threading.WorkerPool pool)
    {
        float[] tile = ArrayPool<float>.Shared.Rent(GemmTile * k);
        try
        {
            fixed (float* t = tile)
            {
                float* tp = t;
                for (int n0 = 0; n0 < n; n0 += GemmTile)
                {
                    int nt = Math.Min(GemmTile, n - n0);
                    int c0 = n0;

                    // The tile as B [k, nt] row-major (weight row j is column j − n0), in groups of 8 rows per worker.
                    pool.ParallelFor((nt + 7) / 8, (s, e) =>
                    {
                        float[] scratch = ArrayPool<float>.Shared.Rent(8 * k);
                        try
                        {
                            fixed (float* sp = scratch)
                            {
                                QuantRowDequant.Columns(type, w, rowBytes, c0 + (8 * s), Math.Min(c0 + nt, c0 + (8 * e)), k, tp, nt, c0, sp);
                            }
                        }
                        finally
                        {
                            ArrayPool<float>.Shared.Return(scratch);
                        }
                    });
                    Sgemm.Multiply(rows, nt, k, x, k, 1, t, nt, 1, y + n0, n, pool: pool);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(tile);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dequantized(GgmlType type, float* x, byte* w, float* y, int rows, int n, int k, int rowBytes, int start, int end)
    {
        float[] row = ArrayPool<float>.Shared.Rent(k);
        try
        {
            var r = row.AsSpan(0, k);
            for (int j = start; j < end; j++)
            {
                GgmlTypeTraits.Dequantize(type, new ReadOnlySpan<byte>(w + ((long)j * rowBytes), rowBytes), r);
                for (int m = 0; m < rows; m++)
                {
                    y[((long)m * n) + j] = DotF32(r, x + ((long)m * k), k);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(row);
        }
    }

    private static float DotF32(Span<float> r, float* x, int k)
    {
        fixed (float* rp = r)
        {
            var acc = Vector256<float>.Zero;
            int i = 0;
            for (; i + 8 <= k; i += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(rp + i), Vector256.Load(x + i), acc);
            float sum = Vector256.Sum(acc);
            for (; i < k; i++) sum += rp[i] * x[i];
            return sum;
        }
    }

    /// <summary>y[j, :] = row index[j] of w, dequantized; arguments: <see cref="QuantEmbeddingArgs{T}"/>. Work items are positions.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Embedding(nint[] slots, long[] a, long start, long end)
    {
        var p = QuantEmbeddingArgs.Read(a);
        var type = (GgmlType)p.Type;
        byte* w = (byte*)slots[p.W];
        nint idx = slots[p.Index];
        var idt = (DType)p.IndexDType;
        float* y = (float*)slots[p.Y];
        int cols = (int)p.Cols;
        int rowBytes = (int)QuantMatMulArgs.WeightBytes(p.Type, 1, cols);
        for (long j = start; j < end; j++)
        {
            long v = ElementIO.ReadInt(idx, idt, j);
            if (v < 0 || v >= p.Rows)
            {
                throw new IndexOutOfRangeException($"quantized embedding: index {v} (at position {j}) is out of range for {p.Rows} rows");
            }

            GgmlTypeTraits.Dequantize(type, new ReadOnlySpan<byte>(w + (v * rowBytes), rowBytes), new Span<float>(y + (j * cols), cols));

            // A looked-up row is read once: a mapped table's pages (and the block the kernel faulted in around them) go back.
            Memory.ResidentPages.DropAfterLookup(w + (v * rowBytes), rowBytes);
        }
    }
}
