using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Threading;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// A convolution of one image with few output positions and many output channels (ResNet's 512 channels at 7×7) as
/// the product turned around: yᵀ = columnsᵀ · Wᵀ, the output positions as the rows of A (the windows unfolded into
/// MR-high panels, <see cref="ConvPanels"/> with panels of MR positions) and the channels as the columns of B (the
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
        float* a = GemmBuffers.Unfolded((tiles * rows.PanelFloats) + (positions * cout));
        float* product = a + (tiles * rows.PanelFloats);
        var pool = KernelPool.Current;
        var pack = new PackBody { Geometry = rows, Src = x, Dst = a };
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

    /// <summary>Unfolds row tile i (positions [i · MR, …)) of the windows into its A panel.</summary>
    private struct PackBody : IParallelBody
    {
        public ConvPanels Geometry;
        public float* Src, Dst;

        public readonly void Invoke(int start, int end)
        {
            for (int i = start; i < end; i++) Geometry.Pack(Src, i, Dst + (i * Geometry.PanelFloats));
        }
    }
}
