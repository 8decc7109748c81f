using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Candle.Runtime.Kernels.Cpu.Lanes;
using Candle.Runtime.Kernels.Cpu.Ops;
using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Threading;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// float32 3×3 convolution of stride 1 (one group, no dilation) by Winograd's F(m×m, 3×3) (<see cref="IWinogradForm"/>:
/// m = 4, or 2 for small images): each m×m tile of output is A<sup>T</sup>[(G g G<sup>T</sup>) ⊙ (B<sup>T</sup> d B)]A
/// over the (m+2)×(m+2) patch d of input it reads, which turns the 9m² multiplications of a tile and channel pair into
/// (m+2)². The weight's transform U = G g G<sup>T</sup> is made once per plan and packed, per transform position, into
/// the SGEMM's A panels (<see cref="Weights{TForm}"/>); the tiles are processed in blocks: the input transform
/// V = B<sup>T</sup> d B of every channel and tile of the block, vectorized over 8 tiles (the patches' rows transposed
/// in registers), written straight into B panels (rows: input channels, columns: tiles); one product
/// M[ξ] = U[ξ] · V[ξ] per transform position ξ (the blocked SGEMM driver, one position per work item); the output
/// transform of M with the step's bias, residual and ReLU applied (in the unfused ops' order) as each tile's rows are
/// stored. AVX2 with FMA.
/// </summary>
internal static unsafe class ConvWinograd
{
    // Tiles per vector.
    private const int Lanes = 8;

    // A weight float read from memory, in multiply-adds: each call streams its weight (9, 16 or 36 floats per channel
    // pair) once, and one core reads floats at about a 36th of its multiply-add rate (an Intel Xeon of 2 cores: about
    // 5.5 GB/s against 100 GFLOP/s), which decides a call of few tiles.
    private const double WeightCost = 36;

    // Floats of V and M per block (both): 1 MB, so a block's transforms stay in a core's L2 where it holds 2 MB (the
    // Xeon measured; 256 K and 128 K floats ran the same there, 1 M slower).
    private const long BlockFloats = 1L << 18;

    /// <summary>Whether the processor has the instructions the transforms use.</summary>
    public static bool Supported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>
    /// The tile side m of the Winograd form a convolution of this geometry goes through, or 0 for none: a 3×3 window of
    /// stride 1 and dilation 1, one group, at least 8 input and output channels, and the form whose cost is least, when
    /// it is at most three quarters of the unfolded windows'. A cost is the products (per channel pair: tiles times
    /// (m+2)², with a margin for the transforms; 9 per output position unfolded) with the columns rounded up as the
    /// SGEMM computes them — whole panels of <paramref name="nr"/>, the last one in multiples of <paramref name="edge"/>;
    /// positions per image when unfolded, tiles over the batch for Winograd — plus the weight the call reads (9, 16 or
    /// 36 floats per channel pair, <see cref="WeightCost"/> each). One image of 7×7 with 512 channels stays unfolded
    /// (F(2×2)'s 16 tiles save products but read 16 · 512² weight floats instead of 9 · 512²); at batch 8 it is
    /// F(4×4).
    /// </summary>
    public static int Choose(in ConvPanels g, long groups, long cinG, long coutG, long batch, int nr, int edge)
    {
        if (!Supported || nr % Lanes != 0 || edge < 1 || groups != 1 || g.KH != 3 || g.KW != 3 || g.SH != 1 || g.SW != 1 || g.DH != 1 || g.DW != 1)
        {
            return 0;
        }

        if (cinG < 8 || coutG < 8 || cinG > int.MaxValue / 36 || coutG > int.MaxValue / 36 || batch == 0) return 0;
        long Round(long v) => (v / nr * nr) + (((v % nr) + edge - 1) / edge * edge);
        double unfolded = (9.0 * batch * Round(g.OH * g.OW)) + (9 * WeightCost);
        double f4 = (36.0 * Round(batch * Tiles(g.OH, 4) * Tiles(g.OW, 4)) * 1.15) + (36 * WeightCost);
        double f2 = (16.0 * Round(batch * Tiles(g.OH, 2) * Tiles(g.OW, 2)) * 1.1) + (16 * WeightCost);
        double best = Math.Min(f4, f2);
        return best > 0.75 * unfolded ? 0 : f4 <= f2 ? 4 : 2;
    }

    /// <summary>
    /// y = epilogue(conv(x, w) + bias) for every image; <paramref name="packed"/> holds U's A panels per position
    /// (<see cref="Weights{TForm}.Get"/>).
    /// </summary>
    public static void Run<TForm>(
        in ConvPanels g, long batch, int cin, int cout, float* x, float* bias, float* y, float** packed,
        SgemmKernelKind kind, ConvTileEpilogue tail)
        where TForm : IWinogradForm
    {
        int nr = SgemmKernelSelector.PanelWidth(kind);
        int positions = TForm.Patch * TForm.Patch;
        long th = Tiles(g.OH, TForm.Tile), tw = Tiles(g.OW, TForm.Tile), tiles = batch * th * tw;
        long perTile = positions * ((long)cin + cout);
        long tb = Math.Max(nr, BlockFloats / perTile / nr * nr);
        tb = Math.Min(tb, (tiles + nr - 1) / nr * nr);
        float* v = GemmBuffers.Unfolded(perTile * tb);
        float* m = v + (positions * cin * tb);
        var pool = KernelPool.Current;
        var input = new InputBody<TForm>
        {
            X = x, V = v, H = g.H, W = g.W, PH = g.PH, PW = g.PW, Cin = cin, TH = th, TW = tw, Tiles = tiles, Nr = nr,
        };
        var product = new ProductBody { Kind = kind, V = v, M = m, Cin = cin, Cout = cout, Packed = packed };
        var output = new OutputBody<TForm>
        {
            M = m, Y = y, Bias = bias, OH = g.OH, OW = g.OW, Cout = cout, TH = th, TW = tw, Tiles = tiles,
            ResidualOffset = tail.ResidualOffset, Residual = tail.Residual, Relu = tail.Relu,
        };
        for (long t0 = 0; t0 < tiles; t0 += tb)
        {
            // V and M are laid out over whole panels (width); the transforms and products cover the block's tiles
            // only, so the product computes a last partial panel with the vectors of columns it needs (columns past
            // the tiles are never stored, and each column of M depends on its own column of V alone).
            long count = Math.Min(tb, tiles - t0);
            int width = (int)((count + nr - 1) / nr * nr);
            int groups8 = (int)((count + Lanes - 1) / Lanes);
            input.First = t0;
            input.Width = width;
            input.Groups8 = groups8;
            pool.ParallelFor(cin * groups8, 8, ref input);
            product.Width = width;
            product.Columns = (int)count;
            pool.ParallelForDynamic(positions, ref product);
            output.First = t0;
            output.Width = width;
            output.Groups8 = groups8;
            pool.ParallelFor(cout * groups8, 8, ref output);
        }
    }

    private static long Tiles(long size, int tile) => (size + tile - 1) / tile;

    /// <summary>The 8×8 transpose of rows r0..r7 (row k becomes column k).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(
        ref Vector256<float> r0, ref Vector256<float> r1, ref Vector256<float> r2, ref Vector256<float> r3,
        ref Vector256<float> r4, ref Vector256<float> r5, ref Vector256<float> r6, ref Vector256<float> r7)
    {
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        var s0 = Avx.Shuffle(t0, t2, 0x44);
        var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44);
        var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44);
        var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44);
        var s7 = Avx.Shuffle(t5, t7, 0xEE);
        r0 = Avx.Permute2x128(s0, s4, 0x20);
        r1 = Avx.Permute2x128(s1, s5, 0x20);
        r2 = Avx.Permute2x128(s2, s6, 0x20);
        r3 = Avx.Permute2x128(s3, s7, 0x20);
        r4 = Avx.Permute2x128(s0, s4, 0x31);
        r5 = Avx.Permute2x128(s1, s5, 0x31);
        r6 = Avx.Permute2x128(s2, s6, 0x31);
        r7 = Avx.Permute2x128(s3, s7, 0x31);
    }

    /// <summary>
    /// Work item i: the input transform of channel i / Groups8 for the 8 tiles of group i % Groups8 of the block, into
    /// position ξ's B panels at <c>V + ξ · Cin · Width</c> (panel j at <c>j · Cin · Nr</c>, channel c at <c>c · Nr</c>).
    /// </summary>
    private struct InputBody<TForm> : IParallelBody
        where TForm : IWinogradForm
    {
        public float* X, V;
        public long H, W, PH, PW, TH, TW, Tiles, First;
        public int Cin, Nr, Width, Groups8;

        public readonly void Invoke(int start, int end)
        {
            var rows = stackalloc Vector256<float>[Lanes];
            int tile = TForm.Tile, patch = TForm.Patch;
            var r = stackalloc Vector256<float>[patch * patch];
            var planes = stackalloc nint[Lanes];
            var iy0 = stackalloc long[Lanes];
            var ix0 = stackalloc long[Lanes];
            var o = stackalloc Vector256<float>[patch];
            long plane = H * W, tilesPerImage = TH * TW, pos = (long)Cin * Width;
            for (int i = start; i < end; i++)
            {
                int c = i / Groups8, group = i % Groups8;
                long t = First + ((long)group * Lanes);
                // The lanes' tiles are consecutive: one division for the first, then a step along the tile row.
                long tn = t / tilesPerImage, tq = t % tilesPerImage, ty = tq / TW, tx = tq % TW;
                for (int l = 0; l < Lanes; l++, t++)
                {
                    if (t >= Tiles)
                    {
                        planes[l] = 0;
                        continue;
                    }

                    planes[l] = (nint)(X + (((tn * Cin) + c) * plane));
                    iy0[l] = (ty * tile) - PH;
                    ix0[l] = (tx * tile) - PW;
                    if (++tx == TW)
                    {
                        tx = 0;
                        if (++ty == TH)
                        {
                            ty = 0;
                            tn++;
                        }
                    }
                }

                for (int y = 0; y < patch; y++)
                {
                    for (int l = 0; l < Lanes; l++) rows[l] = Row((float*)planes[l], iy0[l] + y, ix0[l]);
                    Transpose(ref rows[0], ref rows[1], ref rows[2], ref rows[3], ref rows[4], ref rows[5], ref rows[6], ref rows[7]);
                    TForm.Input(rows, 1, r + (y * patch), 1);
                }

                int col = group * Lanes;
                float* dst = V + ((long)(col / Nr) * Cin * Nr) + ((long)c * Nr) + (col % Nr);
                for (int nu = 0; nu < patch; nu++)
                {
                    // Column ν of the row transforms through B^T: positions (ξ, ν) for ξ = 0..5.
                    TForm.Input(r + nu, patch, o, 1);
                    for (int xi = 0; xi < patch; xi++) o[xi].Store(dst + (((xi * patch) + nu) * pos));
                }
            }
        }

        // Row y of a tile's patch (6 of the 8 lanes used), zeros outside the image.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly Vector256<float> Row(float* p, long y, long x)
        {
            if (p == null || y < 0 || y >= H) return Vector256<float>.Zero;
            float* row = p + (y * W);
            if (x >= 0 && x + Lanes <= W) return Vector256.Load(row + x);

            // A patch over the image's left or right edge: the lanes inside it, by a masked load (the others read
            // nothing and are zero).
            int lo = (int)Math.Clamp(-x, 0, Lanes), hi = (int)Math.Clamp(W - x, 0, TForm.Patch);
            var lanes = Vector256.CreateSequence(0, 1);
            var mask = Vector256.GreaterThanOrEqual(lanes, Vector256.Create(lo)) & Vector256.LessThan(lanes, Vector256.Create(hi));
            return Avx.MaskLoad(row + x, mask.AsSingle());
        }
    }

    /// <summary>Work item ξ: M[ξ] (Cout × Columns, rows Width apart) = U[ξ] · V[ξ] on the calling thread.</summary>
    private struct ProductBody : IParallelBody
    {
        public SgemmKernelKind Kind;
        public float* V, M;
        public float** Packed;
        public int Cin, Cout, Width, Columns;

        public readonly void Invoke(int start, int end)
        {
            var none = default(NoEpilogue);
            var pool = KernelPool.Current;
            for (int xi = start; xi < end; xi++)
            {
                float* a = Packed[xi];
                Sgemm.MultiplyPanels(
                    Kind, Cout, Columns, Cin, a, Cin, 1, a, V + ((long)xi * Cin * Width),
                    M + ((long)xi * Cout * Width), Width, in none, 0f, pool, 1);
            }
        }
    }

    /// <summary>
    /// Work item i: the output transform of channel i / Groups8 for the 8 tiles of group i % Groups8, plus the bias,
    /// then the residual and ReLU as each tile's rows are stored into y (cropped at its edges).
    /// </summary>
    private struct OutputBody<TForm> : IParallelBody
        where TForm : IWinogradForm
    {
        public float* M, Y, Bias;
        public long OH, OW, TH, TW, Tiles, First, ResidualOffset;
        public int Cout, Width, Groups8;
        public bool Residual, Relu;

        public readonly void Invoke(int start, int end)
        {
            const int Tile = 4;
            int tile = TForm.Tile, patch = TForm.Patch;
            var q = stackalloc Vector256<float>[patch * tile];

            // o[u · 4 + v]: rows of 4 whatever the tile side, zeros past it, so the transposes below take 4 columns.
            var o = stackalloc Vector256<float>[Tile * Tile];
            for (int z = 0; z < Tile * Tile; z++) o[z] = Vector256<float>.Zero;
            var rows = stackalloc Vector128<float>[Lanes];
            var at = stackalloc nint[Lanes];
            var oy0 = stackalloc long[Lanes];
            var widths = stackalloc int[Lanes];
            long pos = (long)Cout * Width, outSize = OH * OW, tilesPerImage = TH * TW;
            for (int i = start; i < end; i++)
            {
                int c = i / Groups8, group = i % Groups8;

                // Each lane's tile: its first output row and column in y, once per item (one division for the first
                // lane, then a step along the tile row); lanes past the last tile are not stored.
                long t = First + ((long)group * Lanes);
                int lanes = (int)Math.Clamp(Tiles - t, 0, Lanes);
                long tn = t / tilesPerImage, tq = t % tilesPerImage, ty = tq / TW, tx = tq % TW;
                for (int l = 0; l < lanes; l++)
                {
                    long ox = tx * tile;
                    oy0[l] = ty * tile;
                    widths[l] = (int)Math.Min(tile, OW - ox);
                    at[l] = (nint)(Y + (((tn * Cout) + c) * outSize) + (oy0[l] * OW) + ox);
                    if (++tx == TW)
                    {
                        tx = 0;
                        if (++ty == TH)
                        {
                            ty = 0;
                            tn++;
                        }
                    }
                }

                var m = (Vector256<float>*)(M + ((long)c * Width) + (group * Lanes));
                long step = pos / Lanes;

                // Rows ξ through A (along ν), then columns through A^T (along ξ): o[u · 4 + v].
                for (int xi = 0; xi < patch; xi++) TForm.Output(m + (xi * patch * step), step, q + (xi * tile), 1);
                for (int v = 0; v < tile; v++) TForm.Output(q + v, tile, o + v, Tile);
                var b = Vector256.Create(Bias == null ? 0f : Bias[c]);
                for (int u = 0; u < tile; u++)
                {
                    var v0 = o[(u * Tile) + 0];
                    var v1 = o[(u * Tile) + 1];
                    var v2 = o[(u * Tile) + 2];
                    var v3 = o[(u * Tile) + 3];
                    if (Bias != null)
                    {
                        v0 += b;
                        v1 += b;
                        v2 += b;
                        v3 += b;
                    }

                    // 4×4 transposes within each half: lane l's row [v0, v1, v2, v3] of tile l.
                    var t0 = Avx.UnpackLow(v0, v1);
                    var t1 = Avx.UnpackHigh(v0, v1);
                    var t2 = Avx.UnpackLow(v2, v3);
                    var t3 = Avx.UnpackHigh(v2, v3);
                    var s0 = Avx.Shuffle(t0, t2, 0x44);
                    var s1 = Avx.Shuffle(t0, t2, 0xEE);
                    var s2 = Avx.Shuffle(t1, t3, 0x44);
                    var s3 = Avx.Shuffle(t1, t3, 0xEE);
                    rows[0] = s0.GetLower();
                    rows[1] = s1.GetLower();
                    rows[2] = s2.GetLower();
                    rows[3] = s3.GetLower();
                    rows[4] = s0.GetUpper();
                    rows[5] = s1.GetUpper();
                    rows[6] = s2.GetUpper();
                    rows[7] = s3.GetUpper();
                    for (int l = 0; l < lanes; l++)
                    {
                        if (oy0[l] + u < OH) Store((float*)at[l] + (u * OW), rows[l], widths[l]);
                    }
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Store(float* dst, Vector128<float> v, int width)
        {
            if (width == 4)
            {
                if (Residual) v += Vector128.Load(dst + ResidualOffset);
                if (Relu) v = ReluOp.Invoke<Lanes128, Vector128<float>>(v);
                v.Store(dst);
                return;
            }

            for (int j = 0; j < width; j++)
            {
                float s = v.GetElement(j);
                if (Residual) s += dst[ResidualOffset + j];
                if (Relu) s = ReluOp.Invoke<Lanes1, float>(s);
                dst[j] = s;
            }
        }
    }

    /// <summary>A constant weight's transform U = G g G<sup>T</sup>, packed per position into A panels on first use.</summary>
    /// <typeparam name="TForm">The Winograd form.</typeparam>
    internal sealed class Weights<TForm>(float* w, int cout, int cin)
        where TForm : IWinogradForm
    {
        private static readonly int Patch = TForm.Patch, Positions = TForm.Patch * TForm.Patch;
        private static readonly double[,] G = TForm.G;

        private readonly object _gate = new();
        private PackedA[]? _packed;
        private nint[]? _pointers;

        /// <summary>The 36 positions' A panels for <paramref name="kind"/> (an array of pointers, kept alive by this object).</summary>
        public float** Get(SgemmKernelKind kind)
        {
            var packed = Volatile.Read(ref _packed);
            if (packed is null || packed[0].Kind != kind)
            {
                lock (_gate)
                {
                    packed = _packed;
                    if (packed is null || packed[0].Kind != kind)
                    {
                        packed = Pack(kind);
                        var pointers = GC.AllocateArray<nint>(Positions, pinned: true);
                        for (int p = 0; p < Positions; p++) pointers[p] = (nint)packed[p].Data;
                        _pointers = pointers;
                        Volatile.Write(ref _packed, packed);
                    }
                }
            }

            return (float**)Unsafe.AsPointer(ref _pointers![0]);
        }

        private PackedA[] Pack(SgemmKernelKind kind)
        {
            // U as [cout][cin][36], each position's [cout, cin] matrix read at a stride of 36.
            var u = new float[(long)cout * cin * Positions];
            var tmp = new double[Patch, 3];
            for (long k = 0; k < (long)cout * cin; k++)
            {
                float* g = w + (k * 9);
                for (int a = 0; a < Patch; a++)
                {
                    for (int j = 0; j < 3; j++) tmp[a, j] = (G[a, 0] * g[j]) + (G[a, 1] * g[3 + j]) + (G[a, 2] * g[6 + j]);
                }

                for (int a = 0; a < Patch; a++)
                {
                    for (int b = 0; b < Patch; b++) u[(k * Positions) + (a * Patch) + b] = (float)((tmp[a, 0] * G[b, 0]) + (tmp[a, 1] * G[b, 1]) + (tmp[a, 2] * G[b, 2]));
                }
            }

            var packed = new PackedA[Positions];
            fixed (float* pu = u)
            {
                for (int p = 0; p < Positions; p++) packed[p] = new PackedA(kind, pu + p, cout, cin, (long)cin * Positions, Positions);
            }

            return packed;
        }
    }
}
