using System.Buffers;
using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Args;
using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Threading;

namespace Candle.Runtime.Kernels.Cpu;

// `rt:conv_gemm_max_pool`: a float32 2-d convolution (with its bias and an optional ReLU) whose result only a
// max pool reads, computed in bands of output rows that are pooled while they are in cache, so the convolution's
// result never goes to memory (ResNet's stem: 7×7 of stride 2, 64 channels at 112×112, then a 3×3 max pool of stride
// 2). Each band holds the rows its pool rows' windows reach; the rows the next band's windows share are kept and moved
// to the band's front rather than computed again. The band's rows go through the column blocks of the unfolded
// panels (ConvPanels, the constant weight's A panels packed once per plan); the pool over each channel's
// rows is ConvKernels.MaxPoolRows (the same values as `rt:pool`). Where the panels would not go by
// column blocks (a weight too large for a core's L2, groups, Winograd or the turned product chosen for the
// convolution alone), the whole convolution is computed into a buffer as `rt:conv_gemm` computes it and pooled
// after. Arguments: ConvMaxPoolArgs<T>; one work item.
public static unsafe partial class ConvGemmKernel
{
    // Floats of one band of convolution rows over every output channel: with the panels it stays in a core's L2.
    private const long BandFloats = 128 * 1024;

    // The most floats of one image's convolution result the kernel holds (a band, or the whole result where it does not
    // go by bands): 256 MB.
    private const long MaxConvFloats = 1L << 26;

    /// <summary>The fused convolution and max pool.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunMaxPool(nint[] slots, long[] a, long start, long end)
    {
        if (start >= end) return;
        ExecuteMaxPool(slots, a, null);
    }

    /// <summary>
    /// Prepares a fused step as <see cref="Prepare"/> does a convolution's: a constant weight is packed into A panels
    /// on first use.
    /// </summary>
    /// <param name="preparation">The step's constant arguments and the plan's weights.</param>
    /// <returns>The kernel to call for this step.</returns>
    public static KernelFn PrepareMaxPool(KernelPreparation preparation)
    {
        if (PreparedWeights(preparation) is not { } weights) return RunMaxPool;
        return (slots, args, start, end) =>
        {
            if (start < end) ExecuteMaxPool(slots, args, weights);
        };
    }

    private static void ExecuteMaxPool(nint[] slots, long[] a, ConvWeights? prepared)
    {
        var q = ConvMaxPoolArgs.Read(a);
        var p = q.Conv;
        float* x = (float*)slots[p.X], w = (float*)slots[p.W], y = (float*)slots[p.Y];
        float* bias = p.Bias < 0 ? null : (float*)slots[p.Bias];
        bool relu = q.Relu != 0;
        var window = new PoolWindow(q);
        var kind = SgemmKernelSelector.Best;
        var geometry = GeometryOf(p, kind);
        long cout = p.OutChannels, groups = p.Groups, coutG = cout / groups, cinG = p.InChannels / groups, outSize = geometry.OutSize;
        if (p.Batch == 0 || cout == 0 || window.OH * window.OW == 0) return;
        if (geometry.Rows > int.MaxValue || coutG > int.MaxValue || outSize > int.MaxValue)
        {
            throw new NotSupportedException($"conv_gemm_max_pool: [{coutG}, {geometry.Rows}] x [{geometry.Rows}, {outSize}] exceeds 32-bit indexing");
        }

        var pool = KernelPool.Current;
        bool banded = groups == 1 && geometry.Rows > 0 && outSize > 0 && coutG * geometry.Rows <= ColumnModeWeightFloats
            && ConvKernels.MaxPoolRowsFit(geometry.OW, window.KW, window.OW, window.SW, window.PW, out _, out _)
            && (prepared is null || ConvWinograd.Choose(geometry, groups, cinG, coutG, p.Batch, geometry.Nr, SgemmKernelSelector.EdgeWidth(kind)) == 0)
            && !(prepared is not null && pool.Threads == 1 && ConvPositionRows.Choose(geometry, groups, coutG, p.Batch, kind));
        if (!banded)
        {
            ConvThenPool(p, x, w, bias, y, prepared, relu, window, geometry);
            return;
        }

        // Bands of pooled rows: the most whose windows' convolution rows (over every channel) fit in BandFloats.
        long oh = geometry.OH, ow = geometry.OW;
        long fit = Math.Max(window.KH, BandFloats / (coutG * ow));
        long bandPooled = Math.Max(1, ((fit - window.KH) / window.SH) + 1);
        long bandRows = Math.Min(oh, ((bandPooled - 1) * window.SH) + window.KH);
        if (coutG * bandRows * ow > MaxConvFloats) throw new NotSupportedException($"conv_gemm_max_pool: a band of {coutG * bandRows * ow} floats (at most {MaxConvFloats})");
        float* band = GemmBuffers.ConvBand(coutG * bandRows * ow);
        var body = new PanelBody
        {
            Kind = kind, W = w, Bias = bias, PackedW = prepared?.Get(kind, 0), M = (int)coutG, Images = 1,
            Tail = new ConvTileEpilogue(null, 0, false, relu), Ldc = bandRows * ow,
        };
        var pooling = new BandPool { Window = window, ConvH = oh, ConvW = ow, ChannelStride = bandRows * ow };
        long inSize = geometry.H * geometry.W;
        for (long n = 0; n < p.Batch; n++)
        {
            body.Src = x + (n * p.InChannels * inSize);
            pooling.Y = y + (n * cout * window.OH * window.OW);

            // Convolution rows [haveLo, haveHi) are at the band's row 0.
            long haveLo = 0, haveHi = 0;
            for (long q0 = 0; q0 < window.OH; q0 += bandPooled)
            {
                long q1 = Math.Min(window.OH, q0 + bandPooled);
                long lo = Math.Clamp((q0 * window.SH) - window.PH, 0, oh);
                long hi = Math.Clamp(((q1 - 1) * window.SH) - window.PH + window.KH, lo, oh);
                long keep = 0;
                if (lo < haveHi)
                {
                    keep = haveHi - lo;
                    if (lo > haveLo)
                    {
                        for (long c = 0; c < coutG; c++)
                        {
                            float* row0 = band + (c * bandRows * ow);
                            new ReadOnlySpan<float>(row0 + ((lo - haveLo) * ow), checked((int)(keep * ow))).CopyTo(new Span<float>(row0, checked((int)(keep * ow))));
                        }
                    }
                }

                long from = lo + keep;
                if (hi > from) ConvolveRows(ref body, geometry, from, hi, band + (keep * ow), pool);
                haveLo = lo;
                haveHi = Math.Max(from, hi);
                pooling.Band = band - (lo * ow);
                pooling.Q0 = q0;
                pooling.Q1 = q1;
                if (pool.Threads > 1 && coutG > 1) pool.ParallelFor((int)coutG, ref pooling);
                else pooling.Invoke(0, (int)coutG);
            }
        }
    }

    /// <summary>Computes convolution rows [<paramref name="r0"/>, <paramref name="r1"/>) of one image into <paramref name="dst"/> (rows of the band's stride).</summary>
    private static void ConvolveRows(ref PanelBody body, ConvPanels geometry, long r0, long r1, float* dst, WorkerPool pool)
    {
        // The rows as a convolution of their own: the output rows start at r0, so the windows start r0 · SH rows lower.
        var rows = geometry;
        rows.OH = r1 - r0;
        rows.PH = geometry.PH - (r0 * geometry.SH);
        body.Geometry = rows;
        body.Y = dst;
        long panels = rows.Panels;
        long budget = Math.Max(1, BlockFloats / rows.PanelFloats);
        int threads = pool.Threads;
        long blocks = Math.Max((panels + budget - 1) / budget, threads == 1 ? 1 : Math.Min(panels, 4L * threads));
        body.PanelsPerBlock = (panels + blocks - 1) / blocks;
        body.BlocksPerImage = (panels + body.PanelsPerBlock - 1) / body.PanelsPerBlock;
        if (threads > 1 && body.BlocksPerImage > 1) pool.ParallelForDynamic((int)body.BlocksPerImage, ref body);
        else body.Invoke(0, (int)body.BlocksPerImage);
    }

    /// <summary>
    /// Each image's whole convolution into a buffer, as <c>rt:conv_gemm</c> computes it, then the max pool over its
    /// planes.
    /// </summary>
    private static void ConvThenPool(ConvArgs<long> p, float* x, float* w, float* bias, float* y, ConvWeights? prepared, bool relu, PoolWindow window, ConvPanels geometry)
    {
        long floats = p.OutChannels * geometry.OutSize;
        if (floats > MaxConvFloats) throw new NotSupportedException($"conv_gemm_max_pool: a convolution result of {floats} floats an image (at most {MaxConvFloats})");
        float[] rented = ArrayPool<float>.Shared.Rent((int)Math.Max(1, floats));
        try
        {
            fixed (float* conv = rented)
            {
                var one = p with { Batch = 1 };
                long inFloats = p.InChannels * geometry.H * geometry.W, pooled = p.OutChannels * window.OH * window.OW;
                for (long n = 0; n < p.Batch; n++)
                {
                    RunPanels(one, x + (n * inFloats), w, bias, conv, prepared, new ConvTileEpilogue(null, 0, false, relu));
                    var planes = new PlanePool { Window = window, X = conv, Y = y + (n * pooled), ConvH = geometry.OH, ConvW = geometry.OW };
                    KernelPool.Current.ParallelFor(checked((int)p.OutChannels), ref planes);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }

    /// <summary>The max pool's window and its output size.</summary>
    private readonly struct PoolWindow(ConvMaxPoolArgs<long> q)
    {
        public readonly long KH = q.PoolKernel.Span[0], KW = q.PoolKernel.Span[1];
        public readonly long SH = q.PoolStride.Span[0], SW = q.PoolStride.Span[1];
        public readonly long PH = q.PoolPadding.Span[0], PW = q.PoolPadding.Span[1];
        public readonly long OH = q.Pooled.Span[0], OW = q.Pooled.Span[1];
    }

    /// <summary>Pools rows [Q0, Q1) of channels [start, end) from the band (Band: the virtual row 0 of channel 0).</summary>
    private struct BandPool : IParallelBody
    {
        public PoolWindow Window;
        public float* Band, Y;
        public long ConvH, ConvW, ChannelStride, Q0, Q1;

        public readonly void Invoke(int start, int end)
        {
            ConvKernels.MaxPoolRowsFit(ConvW, Window.KW, Window.OW, Window.SW, Window.PW, out int bordered, out int starts);
            Span<float> columns = stackalloc float[bordered];
            Span<float> windows = stackalloc float[starts];
            long pooled = Window.OH * Window.OW;
            for (int c = start; c < end; c++)
            {
                ConvKernels.MaxPoolRows(
                    Band + (c * ChannelStride), Y + (c * pooled), ConvH, ConvW, Window.KH, Window.KW, Window.OW,
                    Window.SH, Window.SW, Window.PH, Window.PW, Q0, Q1, columns, windows);
            }
        }
    }

    /// <summary>Pools whole planes [start, end) of the convolution's result.</summary>
    private struct PlanePool : IParallelBody
    {
        public PoolWindow Window;
        public float* X, Y;
        public long ConvH, ConvW;

        public readonly void Invoke(int start, int end)
        {
            ReadOnlySpan<long> input = [ConvH, ConvW], kernel = [Window.KH, Window.KW], output = [Window.OH, Window.OW];
            ReadOnlySpan<long> stride = [Window.SH, Window.SW], padding = [Window.PH, Window.PW];
            ConvKernels.Pool2d(X, Y, start, end, input, kernel, output, stride, padding, isMax: true, includePad: false);
        }
    }
}
