using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Candle.Runtime.Kernels.Cpu.Args;
using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Threading;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// float32 convolution (NC* layout, any spatial rank, groups, stride, padding, dilation) as one matrix product per image
/// and group, y[n, group] = W[group] · columns, the columns being the input's windows unfolded ([Cin/groups · kernel,
/// output positions], padding read as zeros). One and two spatial dims: the windows are unfolded straight into the
/// SGEMM's B panels (<see cref="ConvPanels"/>), block by block while they are in cache, and a constant weight is packed
/// into A panels once per plan (<see cref="Prepare"/>); the bias, a residual and a ReLU (the step's epilogue,
/// <see cref="ConvTileEpilogue"/>) are applied to each finished tile while it is in cache; a constant 3×3 weight of
/// stride 1 goes through Winograd where <see cref="ConvWinograd.Choose"/> finds it saves products, and one image of few
/// positions and many channels through the product turned around (<see cref="ConvPositionRows"/>, the weight's
/// transpose packed once per plan). Other ranks: a dense column matrix multiplied through <see cref="Sgemm"/> (skipped for a 1×1 window of stride 1 without padding), bias
/// preloaded into y, residual and ReLU in a pass after. Arguments: <see cref="ConvArgs{T}"/>; one work item (the
/// kernel splits its work over the pool). <see cref="RunMaxPool"/> is <c>rt:conv_gemm_max_pool</c>, a 2-d convolution
/// and its ReLU pooled by a max pool band by band while in cache (<c>ConvGemmKernel.MaxPool.cs</c>).
/// </summary>
public static unsafe partial class ConvGemmKernel
{
    // Floats of unfolded panels per block: with the weight's panels the block stays in a core's L2.
    private const long BlockFloats = 96 * 1024;

    // Column blocks each multiply all of W: only while W's panels (at most this many floats) stay in a core's L2.
    private const long ColumnModeWeightFloats = 256 * 1024;

    /// <summary>The kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint[] slots, long[] a, long start, long end)
    {
        if (start >= end) return;
        Execute(slots, a, null);
    }

    /// <summary>
    /// Prepares a step: a weight that is one of the plan's constants (and whose shape does not depend on symbols) is
    /// packed into the microkernel's A panels on first use, once per group, and reused by every later call.
    /// </summary>
    /// <param name="preparation">The step's constant arguments and the plan's weights.</param>
    /// <returns>The kernel to call for this step.</returns>
    public static KernelFn Prepare(KernelPreparation preparation)
    {
        if (PreparedWeights(preparation) is not { } weights) return Run;
        return (slots, args, start, end) =>
        {
            if (start < end) Execute(slots, args, weights);
        };
    }

    /// <summary>The step's weight packed on first use, when it is a constant whose shape does not depend on symbols; else null.</summary>
    private static ConvWeights? PreparedWeights(KernelPreparation preparation)
    {
        ArgumentNullException.ThrowIfNull(preparation);
        var c = preparation.ConstantArgs;
        if (c.Count < 10 || c[1] is not long wSlot || c[5] is not long sp || sp is < 1 or > 2 || c.Count < 10 + (6 * sp)
            || c[7] is not long cin || c[8] is not long cout || c[9] is not long groups || groups < 1 || cin % groups != 0 || cout % groups != 0)
        {
            return null;
        }

        long taps = 1;
        for (int d = 0; d < sp; d++)
        {
            if (c[10 + (int)sp + d] is not long k) return null;
            taps *= k;
        }

        long rows = cin / groups * taps, coutG = cout / groups;
        if (rows is 0 or > int.MaxValue || coutG is 0 or > int.MaxValue || preparation.WeightAddress(wSlot) is var w && w == 0) return null;
        return new ConvWeights((float*)w, (int)groups, (int)coutG, (int)rows);
    }

    private static void Execute(nint[] slots, long[] a, ConvWeights? prepared)
    {
        var p = ConvArgs.Read(a);
        float* x = (float*)slots[p.X], w = (float*)slots[p.W], y = (float*)slots[p.Y];
        float* bias = p.Bias < 0 ? null : (float*)slots[p.Bias];
        var (residualSlot, relu) = ConvArgs.ReadEpilogue(a);
        long residualOffset = residualSlot < 0 ? 0 : (float*)slots[residualSlot] - y;
        if (p.InSpatial.Length <= 2)
        {
            RunPanels(p, x, w, bias, y, prepared, new ConvTileEpilogue(null, residualOffset, residualSlot >= 0, relu));
            return;
        }

        RunColumns(p, x, w, bias, y);
        if (residualSlot >= 0 || relu)
        {
            // The bias is in y already: the residual and the ReLU over y as one tile per image.
            long outSize = 1;
            foreach (long d in p.OutSpatial.Span) outSize *= d;
            var epilogue = new ConvTileEpilogue(null, residualOffset, residualSlot >= 0, relu);
            for (long n = 0; n < p.Batch; n++)
            {
                for (long co = 0; co < p.OutChannels; co++) epilogue.Apply(y + (((n * p.OutChannels) + co) * outSize), 0, 0, 0, 1, checked((int)outSize));
            }
        }
    }

    // tail: the residual and ReLU of the step's epilogue (its bias is per group, set here).
    private static void RunPanels(ConvArgs<long> p, float* x, float* w, float* bias, float* y, ConvWeights? prepared, ConvTileEpilogue tail)
    {
        var kind = SgemmKernelSelector.Best;
        long cin = p.InChannels, cout = p.OutChannels, groups = p.Groups, cinG = cin / groups, coutG = cout / groups;
        var geometry = GeometryOf(p, kind);
        long inSize = geometry.H * geometry.W, outSize = geometry.OutSize, rows = geometry.Rows;
        if (outSize == 0 || coutG == 0 || p.Batch == 0) return;
        if (rows > int.MaxValue || coutG > int.MaxValue || outSize > int.MaxValue)
        {
            throw new NotSupportedException($"conv_gemm: [{coutG}, {rows}] x [{rows}, {outSize}] exceeds 32-bit indexing");
        }

        // A 3×3 window of stride 1: Winograd's F(4×4, 3×3) or F(2×2, 3×3) where it saves products.
        switch (prepared is null ? 0 : ConvWinograd.Choose(geometry, groups, cinG, coutG, p.Batch, geometry.Nr, SgemmKernelSelector.EdgeWidth(kind)))
        {
            case 4:
                ConvWinograd.Run<WinogradF4>(geometry, p.Batch, (int)cinG, (int)coutG, x, bias, y, prepared!.F4.Get(kind), kind, tail);
                return;
            case 2:
                ConvWinograd.Run<WinogradF2>(geometry, p.Batch, (int)cinG, (int)coutG, x, bias, y, prepared!.F2.Get(kind), kind, tail);
                return;
        }

        // One image of few positions and many channels on one thread: the product turned around (positions as A's
        // rows). On two threads it measured 1.18× slower than the panels for ResNet-18 at batch 1, so it is one thread's.
        if (prepared is not null && KernelPool.Current.Threads == 1 && ConvPositionRows.Choose(geometry, groups, coutG, p.Batch, kind))
        {
            ConvPositionRows.Run(geometry, (int)coutG, x, bias, y, prepared.Turned(kind), kind, tail);
            return;
        }

        var pool = KernelPool.Current;
        int threads = pool.Threads;
        long panels = geometry.Panels;
        long work = coutG * outSize * rows;
        // Column blocks while the weight's panels stay in a core's L2 (each block multiplies all of W); else the
        // unfolded panels of every image at once and W's rows split over the threads (W read once), on one thread too:
        // layer 4 of ResNet-18 (a 9 MB weight, two panels an image) read the weight from memory once per panel.
        bool byColumns = work < 64 * 64 * 64 || (p.Batch * panels >= 6 * threads && coutG * rows <= ColumnModeWeightFloats);
        for (long g = 0; g < groups; g++)
        {
            float* src = x + (g * cinG * inSize);
            float* dst = y + (g * coutG * outSize);
            float* b = bias is null ? null : bias + (g * coutG);
            if (rows == 0)
            {
                for (long n = 0; n < p.Batch; n++)
                {
                    for (long co = 0; co < coutG; co++)
                    {
                        float* plane = dst + (n * cout * outSize) + (co * outSize);
                        new Span<float>(plane, (int)outSize).Fill(b is null ? 0f : b[co]);
                        tail.Apply(plane, 0, 0, 0, 1, (int)outSize);
                    }
                }

                continue;
            }

            var body = new PanelBody
            {
                Geometry = geometry, Kind = kind, Src = src, W = w + (g * coutG * rows), Bias = b, Y = dst,
                PackedW = prepared is null ? null : prepared.Get(kind, (int)g),
                M = (int)coutG, Images = p.Batch, SrcStride = cin * inSize, YStride = cout * outSize, Tail = tail,
            };
            if (byColumns)
            {
                // Each work item unfolds a block of one image's panels into its thread's buffer and multiplies all of W by it.
                long budget = Math.Max(1, BlockFloats / geometry.PanelFloats);
                long perImage = Math.Max((panels + budget - 1) / budget, threads == 1 ? 1 : Math.Min(panels, ((4L * threads) + p.Batch - 1) / p.Batch));
                body.PanelsPerBlock = (panels + perImage - 1) / perImage;
                body.BlocksPerImage = (panels + body.PanelsPerBlock - 1) / body.PanelsPerBlock;
                long items = p.Batch * body.BlocksPerImage;
                if (items > int.MaxValue) throw new NotSupportedException($"conv_gemm: {items} column blocks");
                if (threads > 1 && items > 1 && work >= 64 * 64 * 64) pool.ParallelForDynamic((int)items, ref body);
                else body.Invoke(0, (int)items);
            }
            else
            {
                // Few panels per image, a large W: every image's panels unfolded once (in parallel), then chunks of W's
                // rows, each multiplied by every image while it is in cache.
                body.PanelsPerBlock = panels;
                long all = p.Batch * panels;
                if (all > int.MaxValue) throw new NotSupportedException($"conv_gemm: {all} panels");
                body.Panels = Panels(all * geometry.PanelFloats);
                var pack = new PackBody { Geometry = geometry, Src = src, SrcStride = cin * inSize, PanelsPerImage = panels, Dst = body.Panels };
                pool.ParallelFor((int)all, ref pack);
                int mr = SgemmKernelSelector.PanelHeight(kind);
                int tiles = (int)((coutG + mr - 1) / mr);
                body.TilesPerChunk = Math.Max(1, (tiles + (4 * threads) - 1) / (4 * threads));
                pool.ParallelForDynamic((tiles + body.TilesPerChunk - 1) / body.TilesPerChunk, ref body);
            }
        }
    }

    private static float* Panels(long floats) => GemmBuffers.Unfolded(floats);

    /// <summary>The panels' geometry of a 1- or 2-d convolution (a 1-d one as height 1) for the microkernel <paramref name="kind"/>.</summary>
    private static ConvPanels GeometryOf(ConvArgs<long> p, SgemmKernelKind kind)
    {
        var s = p.InSpatial.Span;
        var k = p.Kernel.Span;
        var o = p.OutSpatial.Span;
        var st = p.Stride.Span;
        var pad = p.Padding.Span;
        var dil = p.Dilation.Span;
        bool two = s.Length == 2;
        var geometry = new ConvPanels
        {
            H = two ? s[0] : 1, W = s[^1], KH = two ? k[0] : 1, KW = k[^1], OH = two ? o[0] : 1, OW = o[^1],
            SH = two ? st[0] : 1, SW = st[^1], PH = two ? pad[0] : 0, PW = pad[^1], DH = two ? dil[0] : 1, DW = dil[^1],
            Nr = SgemmKernelSelector.PanelWidth(kind),
        };
        geometry.Rows = p.InChannels / p.Groups * geometry.KH * geometry.KW;
        return geometry;
    }

    private static void RunColumns(ConvArgs<long> p, float* x, float* w, float* bias, float* y)
    {
        var body = new Unfold
        {
            InShape = p.InSpatial.ToArray(), KShape = p.Kernel.ToArray(), OutShape = p.OutSpatial.ToArray(),
            Stride = p.Stride.ToArray(), Padding = p.Padding.ToArray(), Dilation = p.Dilation.ToArray(),
        };
        long inSize = 1, kSize = 1, outSize = 1;
        bool direct = true;
        for (int d = 0; d < body.InShape.Length; d++)
        {
            inSize *= body.InShape[d];
            kSize *= body.KShape[d];
            outSize *= body.OutShape[d];
            direct &= body.KShape[d] == 1 && body.Stride[d] == 1 && body.Padding[d] == 0 && body.OutShape[d] == body.InShape[d];
        }

        long cin = p.InChannels, cout = p.OutChannels, groups = p.Groups, cinG = cin / groups, coutG = cout / groups;
        long rows = cinG * kSize;
        body.KSize = kSize;
        body.OutSize = outSize;
        var pool = KernelPool.Current;
        float[]? rented = direct || rows == 0 ? null : ArrayPool<float>.Shared.Rent(checked((int)(rows * outSize)));
        try
        {
            fixed (float* cols = rented)
            {
                for (long n = 0; n < p.Batch; n++)
                {
                    for (long g = 0; g < groups; g++)
                    {
                        float* src = x + (((n * cin) + (g * cinG)) * inSize);
                        float* dst = y + (((n * cout) + (g * coutG)) * outSize);
                        if (bias is null)
                        {
                            if (rows == 0) new Span<float>(dst, checked((int)(coutG * outSize))).Clear();
                        }
                        else
                        {
                            for (long co = 0; co < coutG; co++) new Span<float>(dst + (co * outSize), checked((int)outSize)).Fill(bias[(g * coutG) + co]);
                        }

                        if (rows == 0) continue;
                        float* b = src;
                        if (!direct)
                        {
                            body.Src = src;
                            body.Cols = cols;
                            pool.ParallelFor(checked((int)rows), 4, ref body);
                            b = cols;
                        }

                        Sgemm.Multiply(
                            (int)coutG, (int)outSize, (int)rows,
                            w + (g * coutG * rows), (int)rows, 1,
                            b, (int)outSize, 1,
                            dst, (int)outSize, beta: bias is null ? 0f : 1f, pool: pool);
                    }
                }
            }
        }
        finally
        {
            if (rented is not null) ArrayPool<float>.Shared.Return(rented);
        }
    }

    /// <summary>Rows of the column matrix: row (c, tap) holds input channel c at that window tap for every output position.</summary>
    private struct Unfold : IParallelBody
    {
        public long[] InShape, KShape, OutShape, Stride, Padding, Dilation;
        public long KSize, OutSize;
        public float* Src, Cols;

        public readonly void Invoke(int start, int end)
        {
            int sp = InShape.Length, last = sp - 1;
            long inLast = InShape[last], outLast = OutShape[last], sLast = Stride[last];
            long inSize = 1;
            for (int d = 0; d < sp; d++) inSize *= InShape[d];
            Span<long> kpos = stackalloc long[sp];
            Span<long> opos = stackalloc long[sp];
            for (int r = start; r < end; r++)
            {
                long c = r / KSize, tap = r % KSize;
                Unflatten(tap, KShape, kpos);
                float* plane = Src + (c * inSize);
                float* row = Cols + ((long)r * OutSize);
                long lastOffset = (kpos[last] * Dilation[last]) - Padding[last];
                for (long outer = 0; outer < OutSize; outer += outLast)
                {
                    // The input row (all but the last spatial dim) this run of outputs reads, or none when it is padding.
                    Unflatten(outer, OutShape, opos);
                    long inRow = 0;
                    bool inside = true;
                    for (int d = 0; d < last; d++)
                    {
                        long pos = (opos[d] * Stride[d]) - Padding[d] + (kpos[d] * Dilation[d]);
                        inside &= pos >= 0 && pos < InShape[d];
                        inRow = (inRow * InShape[d]) + pos;
                    }

                    float* o = row + outer;
                    if (!inside)
                    {
                        new Span<float>(o, checked((int)outLast)).Clear();
                        continue;
                    }

                    // Outputs j read input (j · stride + offset) along the last dim: those in [lo, hi) fall inside it.
                    float* i = plane + (inRow * inLast) + lastOffset;
                    long lo = lastOffset >= 0 ? 0 : Math.Min(outLast, (-lastOffset + sLast - 1) / sLast);
                    long hi = inLast - lastOffset <= 0 ? lo : Math.Clamp((inLast - lastOffset + sLast - 1) / sLast, lo, outLast);
                    new Span<float>(o, checked((int)lo)).Clear();
                    if (sLast == 1)
                    {
                        new ReadOnlySpan<float>(i + lo, checked((int)(hi - lo))).CopyTo(new Span<float>(o + lo, checked((int)(hi - lo))));
                    }
                    else
                    {
                        for (long j = lo; j < hi; j++) o[j] = i[j * sLast];
                    }

                    new Span<float>(o + hi, checked((int)(outLast - hi))).Clear();
                }
            }
        }

        private static void Unflatten(long flat, long[] shape, Span<long> pos)
        {
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                pos[d] = flat % shape[d];
                flat /= shape[d];
            }
        }
    }

    /// <summary>
    /// Column mode (<see cref="Panels"/> null): work item i unfolds block i % BlocksPerImage of image i / BlocksPerImage
    /// (PanelsPerBlock panels) into the thread's buffer and multiplies all of W by it. Row mode: every image's panels
    /// are unfolded already and work item i multiplies the rows of tiles [i · TilesPerChunk, …) of W by each image's.
    /// </summary>
    private struct PanelBody : IParallelBody
    {
        public ConvPanels Geometry;
        public SgemmKernelKind Kind;
        public float* Src, W, Bias, Y, PackedW, Panels;
        public int M;
        public long Images, SrcStride, YStride;
        public long PanelsPerBlock, BlocksPerImage;
        public int TilesPerChunk;
        public ConvTileEpilogue Tail;

        // The distance between output channels' rows in Y (0: the geometry's output positions, y dense).
        public long Ldc;

        public readonly void Invoke(int start, int end)
        {
            long outSize = Geometry.OutSize, floats = Geometry.PanelFloats;
            for (int i = start; i < end; i++)
            {
                if (Panels is null)
                {
                    long n = i / BlocksPerImage, first = i % BlocksPerImage * PanelsPerBlock;
                    long count = Math.Min(PanelsPerBlock, Geometry.Panels - first);
                    float* buffer = ConvGemmKernel.Panels(count * floats);
                    for (long j = 0; j < count; j++) Geometry.Pack(Src + (n * SrcStride), first + j, buffer + (j * floats));
                    long p0 = first * Geometry.Nr;
                    Multiply(0, M, (int)Math.Min(count * Geometry.Nr, outSize - p0), buffer, Y + (n * YStride) + p0);
                }
                else
                {
                    int mr = SgemmKernelSelector.PanelHeight(Kind);
                    int r0 = i * TilesPerChunk * mr;
                    int r1 = Math.Min(M, r0 + (TilesPerChunk * mr));
                    for (long n = 0; n < Images && r0 < r1; n++)
                    {
                        Multiply(r0, r1 - r0, (int)outSize, Panels + (n * PanelsPerBlock * floats), Y + (n * YStride));
                    }
                }
            }
        }

        private readonly void Multiply(int r0, int m, int cols, float* panels, float* c)
        {
            int k = (int)Geometry.Rows;
            long ldc = Ldc > 0 ? Ldc : Geometry.OutSize;
            float* a = W + ((long)r0 * k);
            float* packedA = PackedW is null ? null : PackedW + ((long)r0 * k);
            var pool = KernelPool.Current;
            var epilogue = new ConvTileEpilogue(Bias is null ? null : Bias + r0, Tail.ResidualOffset, Tail.Residual, Tail.Relu);
            if (!epilogue.Active)
            {
                var none = default(NoEpilogue);
                Sgemm.MultiplyPanels(Kind, m, cols, k, a, k, 1, packedA, panels, c + (r0 * ldc), ldc, in none, 0f, pool, 1);
            }
            else
            {
                Sgemm.MultiplyPanels(Kind, m, cols, k, a, k, 1, packedA, panels, c + (r0 * ldc), ldc, in epilogue, 0f, pool, 1);
            }
        }
    }

    /// <summary>Unfolds panel i (image i / PanelsPerImage) of the group's windows into its place in a shared buffer.</summary>
    private struct PackBody : IParallelBody
    {
        public ConvPanels Geometry;
        public float* Src, Dst;
        public long SrcStride, PanelsPerImage;

        public readonly void Invoke(int start, int end)
        {
            for (int i = start; i < end; i++)
            {
                Geometry.Pack(Src + (i / PanelsPerImage * SrcStride), i % PanelsPerImage, Dst + (i * Geometry.PanelFloats));
            }
        }
    }

    /// <summary>
    /// A constant weight and its A panels, packed per group on first use for the microkernel in use (and, for a 3×3
    /// window of one group, its Winograd transform).
    /// </summary>
    private sealed class ConvWeights(float* w, int groups, int coutG, int rows)
    {
        private readonly object _gate = new();
        private PackedA[]? _packed;
        private ConvWinograd.Weights<WinogradF4>? _f4;
        private ConvWinograd.Weights<WinogradF2>? _f2;
        private PackedB? _turned;

        /// <summary>The weight's F(4×4, 3×3) transform (one group, 3×3 window: the caller checked).</summary>
        public ConvWinograd.Weights<WinogradF4> F4 => Volatile.Read(ref _f4) ?? Once(ref _f4);

        /// <summary>The weight's F(2×2, 3×3) transform (one group, 3×3 window: the caller checked).</summary>
        public ConvWinograd.Weights<WinogradF2> F2 => Volatile.Read(ref _f2) ?? Once(ref _f2);

        private ConvWinograd.Weights<TForm> Once<TForm>(ref ConvWinograd.Weights<TForm>? field)
            where TForm : IWinogradForm
        {
            lock (_gate)
            {
                var weights = field;
                if (weights is null)
                {
                    weights = new ConvWinograd.Weights<TForm>(w, coutG, rows / 9);
                    Volatile.Write(ref field, weights);
                }

                return weights;
            }
        }

        /// <summary>The weight's transpose ([Cin · taps, Cout]) in B panels for <paramref name="kind"/> (one group: the caller checked).</summary>
        public float* Turned(SgemmKernelKind kind)
        {
            var turned = Volatile.Read(ref _turned);
            if (turned is null || turned.Kind != kind)
            {
                lock (_gate)
                {
                    turned = _turned;
                    if (turned is null || turned.Kind != kind)
                    {
                        turned = Sgemm.PackB(kind, w, rows, coutG, 1, rows);
                        Volatile.Write(ref _turned, turned);
                    }
                }
            }

            return turned.Data;
        }

        public float* Get(SgemmKernelKind kind, int group)
        {
            var packed = Volatile.Read(ref _packed);
            if (packed is null || packed[0].Kind != kind)
            {
                lock (_gate)
                {
                    packed = _packed;
                    if (packed is null || packed[0].Kind != kind)
                    {
                        packed = new PackedA[groups];
                        for (int g = 0; g < groups; g++) packed[g] = new PackedA(kind, w + ((long)g * coutG * rows), coutG, rows, rows, 1);
                        Volatile.Write(ref _packed, packed);
                    }
                }
            }

            return packed[group].Data;
        }
    }
}
