using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Threading;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// A convolution of one image with few output positions and many output channels (ResNet's 512 channels at 7×7) as
/// the product turned around: yᵀ = columnsᵀ · Wᵀ, the output positions as the rows of A (the windows unfolded into
/// MR-high panels from a copy of the input inside a zero border, each row of a tile gathered at offsets fixed per
/// position) and the channels as the columns of B (the
/// constant weight's transpose, packed once per plan). The microkernel's vectors then run along the channels (a
/// multiple of its panel width) instead of along 49 positions, which panels of 32 pad to 64, and the last few
/// positions take an edge tile of 4 or 8 rows. The product lands in scratch as
/// [positions, channels]; each channel's row of y is gathered from it and the step's epilogue (bias, residual, ReLU)
/// applied to that row. Every output sums the same products in the same order as the unturned product.
/// </summary>
internal static unsafe class ConvPositionRows
{
    // Output positions at most (the scratch holds [positions, channels] beside the unfolded rows).
    private const long MaxPositions = 256;

    // The turned product must save at least this share of the multiply-adds the panels compute.
    private const double MinSaving = 1.0 / 6;

    /// <summary>
    /// Whether the step goes through the turned product: the 512-bit microkernel (12×32 tiles; where it was measured),
    /// one image and one group, at most <see cref="MaxPositions"/> positions, and at least <see cref="MinSaving"/>
    /// fewer padded multiply-adds than the product over panels of positions (49 positions: 52 rows of tiles against
    /// two panels of 32 by 43 tiles of 12 channels, 0.81 of the work and about 0.95 of the time of ResNet's layer 4; 196
    /// positions of 256 channels, 0.85 of the work, measured slower, its unfolding into panels of 12 costing more).
    /// </summary>
    /// <param name="g">The convolution's geometry (its panel width the microkernel's).</param>
    /// <param name="groups">The groups.</param>
    /// <param name="coutG">Output channels per group.</param>
    /// <param name="batch">Images.</param>
    /// <param name="kind">The microkernel.</param>
    public static bool Choose(in ConvPanels g, long groups, long coutG, long batch, SgemmKernelKind kind)
    {
        long n = g.OutSize;
        if (kind != SgemmKernelKind.Vector512 || batch != 1 || groups != 1 || n == 0 || n > MaxPositions || coutG == 0 || g.Rows == 0) return false;
        int mr = SgemmKernelSelector.PanelHeight(kind), nr = SgemmKernelSelector.PanelWidth(kind);

        // The last few positions take an edge tile of 4, 8 or 12 rows.
        long edge = n % mr;
        long edgeRows = (edge + 3) / 4 * 4;
        long turned = (n - edge + edgeRows) * Round(coutG, nr);
        long panels = Round(coutG, mr) * Round(n, g.Nr);
        return turned <= (1 - MinSaving) * panels;
    }

    /// <summary>y = epilogue(conv(x, w) + bias) for one image through the turned product.</summary>
    /// <param name="g">The geometry (<see cref="Choose"/> accepted it).</param>
    /// <param name="cout">Output channels.</param>
    /// <param name="x">The image.</param>
    /// <param name="bias">The bias, or null.</param>
    /// <param name="y">The output.</param>
    /// <param name="weightT">The weight's transpose in <paramref name="kind"/>'s B panels ([Cin · taps, Cout]).</param>
    /// <param name="kind">The microkernel.</param>
    /// <param name="tail">The residual and ReLU of the step's epilogue.</param>
    public static void Run(in ConvPanels g, int cout, float* x, float* bias, float* y, float* weightT, SgemmKernelKind kind, ConvTileEpilogue tail)
    {
        int mr = SgemmKernelSelector.PanelHeight(kind);
        var rows = g;
        rows.Nr = mr;
        long tiles = rows.Panels, positions = g.OutSize;
        int k = checked((int)g.Rows);

        // The input copied inside a zero border that holds every window (padded height and width), so that row
        // (channel, ky, kx) of a tile is MR floats at offsets fixed per position: no bounds checked per float.
        long taps = g.KH * g.KW, channels = g.Rows / taps;
        long hp = Math.Max(g.PH + g.H, ((g.OH - 1) * g.SH) + ((g.KH - 1) * g.DH) + 1);
        long wp = Math.Max(g.PW + g.W, ((g.OW - 1) * g.SW) + ((g.KW - 1) * g.DW) + 1);
        long paddedFloats = channels * hp * wp;
        float* a = GemmBuffers.Unfolded((tiles * rows.PanelFloats) + (positions * cout) + paddedFloats);
        float* product = a + (tiles * rows.PanelFloats);
        float* padded = product + (positions * cout);
        var pool = KernelPool.Current;
        var border = new BorderBody { Geometry = g, Src = x, Padded = padded, Hp = hp, Wp = wp };
        if (pool.Threads > 1 && channels > 1) pool.ParallelFor((int)channels, ref border);
        else border.Invoke(0, (int)channels);
        var pack = new PackBody { Geometry = rows, Padded = padded, Dst = a, Hp = hp, Wp = wp, Channels = channels, Mr = mr };
        if (pool.Threads > 1 && tiles > 1) pool.ParallelFor((int)tiles, ref pack);
        else pack.Invoke(0, (int)tiles);

        var none = default(NoEpilogue);
        // The weight's panels come from memory once per run: the driver fetches each next panel block ahead.
        Sgemm.MultiplyPanels(kind, (int)positions, cout, k, a, k, 1, a, weightT, product, cout, in none, 0f, pool, pool.Threads, bFromMemory: true);

        var epilogue = new ConvTileEpilogue(bias, tail.ResidualOffset, tail.Residual, tail.Relu);
        for (int co = 0; co < cout; co++)
        {
            float* row = y + ((long)co * positions);
            float* from = product + co;
            for (long p = 0; p < positions; p++) row[p] = from[p * cout];
            if (epilogue.Active) epilogue.Apply(row, (int)positions, co, 0, 1, (int)positions);
        }
    }

    private static long Round(long x, long multiple) => (x + multiple - 1) / multiple * multiple;

    /// <summary>
    /// Unfolds row tile i (positions [i · MR, …)) of the windows into its A panel from the bordered input: row
    /// (channel, ky, kx) of the panel at <c>row · MR</c>, zeros past the last position.
    /// </summary>
    private struct PackBody : IParallelBody
    {
        public ConvPanels Geometry;
        public float* Padded, Dst;
        public long Hp, Wp, Channels;
        public int Mr;

        public readonly void Invoke(int start, int end)
        {
            var g = Geometry;
            int mr = Mr;
            long positions = g.OutSize, plane = Hp * Wp;
            Span<long> corner = stackalloc long[mr];
            for (int t = start; t < end; t++)
            {
                // Each position's window corner in the bordered plane.
                long p0 = (long)t * mr;
                int count = (int)Math.Min(mr, positions - p0);
                for (int i = 0; i < count; i++)
                {
                    long q = p0 + i, oy = q / g.OW, ox = q % g.OW;
                    corner[i] = (oy * g.SH * Wp) + (ox * g.SW);
                }

                float* d = Dst + (t * g.PanelFloats);
                if (mr == 12 && Avx2.IsSupported && plane <= int.MaxValue)
                {
                    Gather12(g, d, corner, count, plane);
                    continue;
                }

                for (long c = 0; c < Channels; c++)
                {
                    float* channel = Padded + (c * plane);
                    for (long ky = 0; ky < g.KH; ky++)
                    {
                        for (long kx = 0; kx < g.KW; kx++)
                        {
                            float* s = channel + (ky * g.DH * Wp) + (kx * g.DW);
                            for (int i = 0; i < count; i++) d[i] = s[corner[i]];
                            for (int i = count; i < mr; i++) d[i] = 0f;
                            d += mr;
                        }
                    }
                }
            }
        }

        // A tile of 12 positions: each row one 8-lane and one 4-lane gather (lanes past the last position masked to
        // zero), the same floats as the scalar copy.
        private readonly void Gather12(in ConvPanels g, float* d, ReadOnlySpan<long> corner, int count, long plane)
        {
            Span<int> at = stackalloc int[12];
            Span<int> on = stackalloc int[12];
            for (int i = 0; i < 12; i++)
            {
                at[i] = i < count ? (int)corner[i] : 0;
                on[i] = i < count ? -1 : 0;
            }

            var lo = Vector256.Create(at[..8]);
            var hi = Vector128.Create(at[8..]);
            var loMask = Vector256.Create(on[..8]).AsSingle();
            var hiMask = Vector128.Create(on[8..]).AsSingle();
            for (long c = 0; c < Channels; c++)
            {
                float* channel = Padded + (c * plane);
                for (long ky = 0; ky < g.KH; ky++)
                {
                    for (long kx = 0; kx < g.KW; kx++)
                    {
                        float* s = channel + (ky * g.DH * Wp) + (kx * g.DW);
                        Avx2.GatherMaskVector256(Vector256<float>.Zero, s, lo, loMask, 4).Store(d);
                        Avx2.GatherMaskVector128(Vector128<float>.Zero, s, hi, hiMask, 4).Store(d + 8);
                        d += 12;
                    }
                }
            }
        }
    }

    /// <summary>Work item c: channel c of the input into its plane of the bordered copy, zeros around it.</summary>
    private struct BorderBody : IParallelBody
    {
        public ConvPanels Geometry;
        public float* Src, Padded;
        public long Hp, Wp;

        public readonly void Invoke(int start, int end)
        {
            var g = Geometry;
            long plane = Hp * Wp, inPlane = g.H * g.W;
            for (long c = start; c < end; c++)
            {
                float* to = Padded + (c * plane);
                new Span<float>(to, checked((int)plane)).Clear();
                for (long r = 0; r < g.H; r++)
                {
                    new ReadOnlySpan<float>(Src + (c * inPlane) + (r * g.W), checked((int)g.W))
                        .CopyTo(new Span<float>(to + ((r + g.PH) * Wp) + g.PW, checked((int)g.W)));
                }
            }
        }
    }
}
