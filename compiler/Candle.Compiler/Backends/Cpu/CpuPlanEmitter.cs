using Candle.Compiler.Backends.Cpu.Emit;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Runtime.Kernels.Cpu;
using Candle.Runtime.Kernels.Cpu.Args;
using Candle.Runtime.Plans;

namespace Candle.Compiler.Backends.Cpu;

/// <summary>
/// Turns a <see cref="KernelGraph"/> into a CPU <see cref="Plan"/>: generated kernels are rendered to IL
/// (<see cref="ElementwiseEmitter"/>, Vector512/256/128 with a scalar tail) in one kernel assembly, library calls
/// become calls of the runtime's hand-written kernels by name with their argument records (<c>Kernels/Cpu/Args</c>), and each call gets
/// the work split the CPU executor uses (items over the worker pool and a cost per item).
/// </summary>
internal sealed class CpuPlanEmitter
{
    /// <summary>Queries per work item of the flash attention kernel.</summary>
    private const int AttentionQueryBlock = 16;

    private readonly KernelModule _module = new();
    private readonly Type _lanes;
    private readonly LoweringOptions _options;
    private readonly Func<int, BufferKind> _kindOf;

    private CpuPlanEmitter(LoweringOptions options, Func<int, BufferKind> kindOf)
    {
        _options = options;
        _kindOf = kindOf;
        _lanes = ElementwiseEmitter.LanesFor(options.VectorBits);
    }

    /// <summary>
    /// The vector-width argument of row kernels: the backend's explicit width (512 or 256; 128 runs as 256), or 0
    /// so that the kernel picks the widest accelerated one where the plan runs.
    /// </summary>
    private int RowVectorBits => _options.VectorBits switch
    {
        512 => 512,
        0 => 0,
        _ => 256,
    };

    /// <summary>Renders <paramref name="graph"/> as a plan.</summary>
    public static Plan Emit(KernelGraph graph, LoweringOptions options)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var self = new CpuPlanEmitter(options, slot => graph.Buffers[slot].Kind);
        var steps = graph.Calls.Select(self.Step).ToList();
        var buffers = graph.Buffers.Select(b => new PlanBuffer(b.Kind, b.Index, Expr(b.Bytes), b.FirstCall, b.LastCall)).ToList();
        var def = new PlanDefinition(
            [.. graph.Inputs.Select(Tensor)],
            [.. graph.Outputs.Select(Tensor)],
            buffers,
            steps,
            [.. graph.Weights.Select(w => w.Name)],
            options.Threads);
        var (asm, dump) = self._module.Build();
        return new Plan(def, asm is null ? null : new IlKernelPayload(asm, dump), [.. graph.Weights.Select(w => w.Data)]);
    }

    private static PlanTensor Tensor(KernelTensor t) => new(t.Name, t.DType, [.. t.Shape.Select(Expr)], t.Buffer);

    private static DimExpr Expr(Dim d) => d.ToExpr();

    private static long Bits(double v) => BitConverter.DoubleToInt64Bits(v);

    private static Dim[] Dims(IEnumerable<int> values) => [.. values.Select(i => Dim.Of(i))];

    private static Dim Prod(IEnumerable<Dim> dims) => dims.Aggregate(Dim.One, (a, d) => a * d);

    private static PlanStep Step(string kernel, IEnumerable<Dim> args, Dim work, Dim cost, string label) =>
        new(kernel, [.. args.Select(Expr)], Expr(work), Expr(cost), label);

    private PlanStep Step(KernelCall call) => call switch
    {
        ElementwiseCall e when !_options.GenerateKernels => Step(InterpretedArgs.Kernel, InterpretedStepArgs(e), e.Numel, 4 * Math.Max(1, e.Kernel.Body.Count - e.Inputs.Count), e.Label),
        ElementwiseCall e => Step(GeneratedArgs.Prefix + Generated(e), ElementwiseArgs(e), e.Numel, Math.Max(1, e.Kernel.Body.Count - e.Inputs.Count), e.Label),
        ReductionCall r when _options.GenerateKernels => Step(
            GeneratedArgs.Prefix + Generated(r), ReductionArgs(r), r.Rows, r.RowLength * Math.Max(1, r.Kernel.ReduceAt + 1 - r.Inputs.Count), r.Label),
        BroadcastReductionCall r when _options.GenerateKernels => Step(
            GeneratedArgs.Prefix + Generated(r), BroadcastReductionArgs(r), r.Rows, r.RowLength * Math.Max(1, r.Kernel.Body.Count - r.Inputs.Count), r.Label),
        CopyCall c => Copy(c),
        FillCall f => Step(FillArgs.Kernel, new FillArgs<Dim>(Dst: f.Slot, DType: (int)f.DType, ValueBits: Bits(f.Value)).Encode(), f.Count, f.Count == Dim.One ? 0 : 1, f.Label),
        ArangeCall a => Step(
            ArangeArgs.Kernel, new ArangeArgs<Dim>(Dst: a.Slot, DType: (int)a.DType, StartBits: Bits(a.Start), StepBits: Bits(a.Step)).Encode(), a.Length, 1, a.Label),
        RandomUniformCall r => Step(
            RandomUniformArgs.Kernel, new RandomUniformArgs<Dim>(Dst: r.Slot, Seed: r.Seed, Stream: Dim.Of(r.Stream)).Encode(), r.Count, 8, r.Label),
        CheckRangeCall r => Step(CheckRangeArgs.Kernel, new CheckRangeArgs<Dim>(Start: r.Start, End: r.End, Size: r.Size).Encode(), Dim.One, 0, r.Label),
        FallbackElementwiseCall f => Fallback(f),
        ReduceCall r => Step(
            ReduceArgs.Kernel, new ReduceArgs<Dim>(Op: (int)r.Op.ReduceKernelOp(), X: r.X, XType: (int)r.XType, Y: r.Y, YType: (int)r.YType, RowLength: r.RowLength).Encode(), r.Rows, r.RowLength, r.Label),
        RowCall { Op: Op.CumSum } r => Step(
            CumSumArgs.Kernel, new CumSumArgs<Dim>(X: r.X, XType: (int)r.XType, Y: r.Y, YType: (int)r.YType, RowLength: r.RowLength).Encode(), r.Rows, r.RowLength, r.Label),
        RowCall r => Step(
            r.Op == Op.Softmax ? SoftmaxArgs.Kernel : SoftmaxArgs.LogKernel,
            new SoftmaxArgs<Dim>(X: r.X, Y: r.Y, DType: (int)r.YType, RowLength: r.RowLength, VectorBits: RowVectorBits).Encode(),
            r.Rows,
            r.RowLength * 3,
            r.Label),
        NormCall { Residual: >= 0 } n => throw new NotSupportedException($"the CPU backend has no kernel for {n.Label} (a norm with a residual)"),
        NormCall { Op: Op.LayerNorm } n => Step(
            LayerNormArgs.Kernel,
            new LayerNormArgs<Dim>(X: n.X, Weight: n.Weight, Bias: n.Bias, Y: n.Y, DType: (int)n.DType, RowLength: n.RowLength, EpsBits: Bits(n.Eps), VectorBits: RowVectorBits).Encode(),
            n.Rows,
            n.RowLength * 3,
            n.Label),
        NormCall n => Step(
            RmsNormArgs.Kernel,
            new RmsNormArgs<Dim>(X: n.X, Weight: n.Weight, Y: n.Y, DType: (int)n.DType, RowLength: n.RowLength, EpsBits: Bits(n.Eps), VectorBits: RowVectorBits).Encode(),
            n.Rows,
            n.RowLength * 2,
            n.Label),
        GroupNormCall g => Step(
            GroupNormArgs.Kernel,
            new GroupNormArgs<Dim>(X: g.X, Weight: g.Weight, Bias: g.Bias, Y: g.Y, DType: (int)g.DType, Channels: g.Channels, Spatial: g.Spatial, Groups: g.Groups, EpsBits: Bits(g.Eps)).Encode(),
            g.Batch * g.Groups,
            g.Channels * g.Spatial / g.Groups * 3,
            g.Label),
        RopeCall r => Step(
            RopeArgs.Kernel,
            new RopeArgs<Dim>(X: r.X.Slot, Cos: r.Cos.Slot, Sin: r.Sin.Slot, Y: r.Y, DType: (int)r.DType, HeadDim: r.HeadDim, Interleaved: r.Interleaved ? 1 : 0).Encode(),
            r.Rows,
            r.HeadDim * 2,
            r.Label),
        GemmCall g => Gemm(g),
        BatchedMatMulCall b => BatchedMatMul(b),
        AttentionCall a => a.DType == DType.F32 ? FlashAttention(a) : DenseAttention(a),
        ConvCall c => Conv(c),
        ConvMaxPoolCall c => ConvMaxPool(c),
        PoolCall p => Pool(p),
        IndexSelectCall i => Step(
            IndexSelectArgs.Kernel,
            new IndexSelectArgs<Dim>(
                X: i.X.Slot, ElementSize: i.X.DType.SizeInBytes(), Index: i.Index.Slot, IndexDType: (int)i.Index.DType, Y: i.Y, Outer: i.Outer, AxisLength: i.AxisSize, Inner: i.Inner, IndexCount: i.Index.Numel).Encode(),
            i.Outer * i.Index.Numel,
            i.Inner,
            i.Label),
        QuantMatMulCall q => QuantMatMul(q),
        QuantEmbeddingCall e => Step(
            QuantEmbeddingArgs.Kernel,
            new QuantEmbeddingArgs<Dim>(W: e.W, Index: e.Index.Slot, IndexDType: (int)e.Index.DType, Y: e.Y, Type: (int)e.Type, Rows: e.Rows, Cols: e.Cols, Count: e.Index.Numel).Encode(),
            e.Index.Numel,
            Dim.Of(e.Cols),
            e.Label),
        GatherCall g => Step(
            GatherArgs.Kernel,
            new GatherArgs<Dim>(
                X: g.X.Slot, ElementSize: g.X.DType.SizeInBytes(), Index: g.Index.Slot, IndexDType: (int)g.Index.DType, Y: g.Y, Axis: g.Axis,
                XShape: g.X.Shape.ToArray(), IndexShape: g.Index.Shape.ToArray()).Encode(r => r),
            g.Index.Numel,
            1,
            g.Label),
        ScatterAddCall s => Step(
            ScatterAddArgs.Kernel,
            new ScatterAddArgs<Dim>(
                X: s.X.Slot, Index: s.Index.Slot, IndexDType: (int)s.Index.DType, Src: s.Src.Slot, Y: s.Y, DType: (int)s.X.DType, Axis: s.Axis,
                XShape: s.X.Shape.ToArray(), IndexShape: s.Index.Shape.ToArray(), SrcShape: s.Src.Shape.ToArray()).Encode(r => r),
            1,
            0,
            s.Label),
        _ => throw new NotSupportedException($"the cpu backend has no kernel for {call.GetType().Name} ({call.Label})"),
    };

    /// <summary>Renders (or reuses) the IL kernel of a generated call and returns its name.</summary>
    private string Generated(ElementwiseCall e) => _module.GetOrAdd(e.Kernel.Key, e.Kernel.Hint, il => ElementwiseEmitter.Emit(il, e.Kernel, _lanes));

    /// <summary>Renders (or reuses) the IL kernel of a generated reduction and returns its name.</summary>
    private string Generated(ReductionCall r) => _module.GetOrAdd(r.Kernel.Key, r.Kernel.Hint, il => ReductionEmitter.Emit(il, r.Kernel, _lanes));

    /// <summary>Renders (or reuses) the IL kernel of a generated reduction with a broadcast consumer and returns its name.</summary>
    private string Generated(BroadcastReductionCall r) => _module.GetOrAdd(r.Kernel.Key, r.Kernel.Hint, il => BroadcastReductionEmitter.Emit(il, r.Kernel, _lanes));

    /// <summary>The arguments of a generated reduction with a broadcast consumer: a generated kernel's over its whole index space.</summary>
    internal static Dim[] BroadcastReductionArgs(BroadcastReductionCall r) =>
        new GeneratedArgs<Dim>(r.Output, [.. r.Inputs.Select(i => Dim.Of(i.Slot))], r.Shape, [.. r.Inputs.Select(i => (i.Offset, (IReadOnlyList<Dim>)i.Strides))]).Encode();

    /// <summary>The arguments of a generated reduction: a generated kernel's over its whole index space (<see cref="GeneratedArgs{T}"/>).</summary>
    internal static Dim[] ReductionArgs(ReductionCall r) =>
        new GeneratedArgs<Dim>(r.Output, [.. r.Inputs.Select(i => Dim.Of(i.Slot))], r.Shape, [.. r.Inputs.Select(i => (i.Offset, (IReadOnlyList<Dim>)i.Strides))]).Encode();

    /// <summary>The arguments of a generated kernel (<see cref="GeneratedArgs{T}"/>).</summary>
    internal static Dim[] ElementwiseArgs(ElementwiseCall e) =>
        new GeneratedArgs<Dim>(e.Output, [.. e.Inputs.Select(i => Dim.Of(i.Slot))], e.Shape, [.. e.Inputs.Select(i => (i.Offset, (IReadOnlyList<Dim>)i.Strides))])
        {
            StoreSlots = [.. e.StoreSlots.Select(s => Dim.Of(s))],
        }.Encode();

    /// <summary>
    /// The arguments of the runtime's interpreted elementwise kernel (<see cref="ElementwiseInterpreter"/>): the
    /// operands as for a generated kernel, with the dtypes and the body that a generated kernel bakes into its code.
    /// </summary>
    internal static List<Dim> InterpretedStepArgs(ElementwiseCall e)
    {
        var spec = e.Kernel;
        if (spec.Stores.Count > 0) throw new NotSupportedException($"{e.Label}: the interpreted elementwise kernel writes one output, not {1 + spec.Stores.Count}");
        var args = new List<Dim> { e.Inputs.Count, e.Shape.Length, spec.Body.Count, e.Output, (int)spec.OutDType };
        args.AddRange(e.Inputs.Select(i => Dim.Of(i.Slot)));
        args.AddRange(spec.Inputs.Select(i => Dim.Of((int)i.DType)));
        args.AddRange(e.Shape);
        foreach (var i in e.Inputs)
        {
            args.Add(i.Offset);
            args.AddRange(i.Strides);
        }

        foreach (var op in spec.Body)
        {
            long code = op.Op switch
            {
                Op.Input => ElementwiseInterpreter.InputCode,
                Op.Full => ElementwiseInterpreter.ConstantCode,
                _ => op.Op.Elementwise().Code,
            };
            var operands = op.Op == Op.Input ? [op.Input] : op.Args;
            args.Add(code);
            args.Add((int)op.DType);
            for (int k = 0; k < 3; k++) args.Add(k < operands.Length ? operands[k] : -1);
            args.Add(op.Op == Op.Full ? Bits(op.Constant) : 0);
        }

        return args;
    }

    private static PlanStep Copy(CopyCall c)
    {
        var (src, dst) = (c.Src, c.Dst);
        var shape = src.Rank == 0 ? [Dim.One] : src.Shape;
        var ss = src.Rank == 0 ? [Dim.Zero] : src.Strides;
        var ds = dst.Rank == 0 ? [Dim.Zero] : dst.Strides;
        var (cs, cstr) = Scheduler.Collapse(shape, [ds, ss]);
        var args = new CopyArgs<Dim>(
            Dst: dst.Slot, Src: src.Slot, ElementSize: src.DType.SizeInBytes(), Shape: cs, DstOffset: dst.Offset, DstStrides: cstr[0], SrcOffset: src.Offset, SrcStrides: cstr[1]);
        return Step(CopyArgs.Kernel, args.Encode(r => r), src.Numel, 1, c.Label);
    }

    private static PlanStep Fallback(FallbackElementwiseCall f)
    {
        var inputs = f.Inputs.Select(v => new FallbackOperand<Dim>(v.Slot, (int)v.DType, v.Offset, v.Rank == 0 ? new[] { Dim.Zero } : v.Strides.ToArray()));
        var args = new FallbackArgs<Dim>(f.Op.Elementwise().Code, f.Output, (int)f.DType, f.Inputs.Count, f.Shape, FallbackArgs<Dim>.Flatten(inputs));
        return Step(FallbackArgs.Kernel, args.Encode(r => r), f.Numel, 4, f.Label);
    }

    private PlanStep Gemm(GemmCall g)
    {
        var (a, b) = (g.A, g.B);
        int r = a.Rank;
        var gemm = new GemmArgs<Dim>(
            A: a.Slot, AOffset: a.Offset, ARowStride: g.ARowStride, AColStride: a.Strides[r - 1],
            B: b.Slot, BOffset: b.Offset, BRowStride: b.Strides[b.Rank - 2], BColStride: b.Strides[b.Rank - 1],
            C: g.C, M: g.Rows, N: g.N, K: g.K,
            // A bfloat16 weight (a deferred cast) is always packed for products of many rows: the kernel has no other way.
            Prepack: (_options.PrepackWeights || b.StoredDType is not null) && g.BIsWeight && _kindOf(b.Slot) == BufferKind.Weight ? 1 : 0,
            BType: (int)(b.StoredDType ?? DType.F32));
        string kernel = GemmArgs.Kernel;
        Dim[] epilogue = [];
        if (g.Epilogue is { } epi && !_options.GenerateKernels)
        {
            epilogue = [.. InterpretedStepArgs(epi)];
            kernel += "@" + InterpretedArgs.Kernel;
        }
        else if (g.Epilogue is { } epi2)
        {
            epilogue = ElementwiseArgs(epi2);
            kernel += "@" + GeneratedArgs.Prefix + Generated(epi2);
        }

        return Step(kernel, gemm.Encode(epilogue, count => count), Dim.One, Dim.Zero, g.Label);
    }

    private PlanStep QuantMatMul(QuantMatMulCall q)
    {
        var args = new QuantMatMulArgs<Dim>(X: q.X.Slot, W: q.W, Y: q.Y, Type: (int)q.Type, Rows: q.Rows, N: q.N, K: q.K);
        if (q.Epilogue is not { } epi) return Step(QuantMatMulArgs.Kernel, args.Encode(), Dim.One, Dim.Zero, q.Label);
        string kernel = QuantMatMulArgs.Kernel;
        Dim[] epilogue;
        if (_options.GenerateKernels)
        {
            epilogue = ElementwiseArgs(epi);
            kernel += "@" + GeneratedArgs.Prefix + Generated(epi);
        }
        else
        {
            epilogue = [.. InterpretedStepArgs(epi)];
            kernel += "@" + InterpretedArgs.Kernel;
        }

        return Step(kernel, args.Encode(epilogue, q.Product, count => count), Dim.One, Dim.Zero, q.Label);
    }

    private static PlanStep BatchedMatMul(BatchedMatMulCall m)
    {
        var (a, b) = (m.A, m.B);
        int r = a.Rank, br = m.BatchShape.Length;
        var args = new BatchedMatMulArgs<Dim>(
            A: a.Slot, B: b.Slot, C: m.C, DType: (int)m.DType, M: m.M, N: m.N, K: m.K, BatchShape: m.BatchShape,
            AOffset: a.Offset, ABatchStrides: a.Strides[..br], ARowStride: a.Strides[r - 2], AColStride: a.Strides[r - 1],
            BOffset: b.Offset, BBatchStrides: b.Strides[..br], BRowStride: b.Strides[r - 2], BColStride: b.Strides[r - 1]).Encode(rank => rank);

        // Sgemm splits its own work over the pool.
        return m.DType == DType.F32
            ? Step(BatchedMatMulArgs.SgemmKernel, args, Dim.One, Dim.Zero, m.Label)
            : Step(BatchedMatMulArgs.MatMulKernel, args, Prod(m.BatchShape) * m.M, m.N * m.K, m.Label);
    }

    private static PlanStep DenseAttention(AttentionCall a)
    {
        var (q, k, v, m) = (a.Q, a.K, a.V, a.Mask);
        var args = new AttentionArgs<Dim>(
            Q: q.Slot, K: k.Slot, V: v.Slot, Mask: m?.Slot ?? -1, Y: a.Y, DType: (int)a.DType, MaskDType: (int)(m?.DType ?? DType.Bool),
            Batch: q.Shape[0], QHeads: q.Shape[1], KvHeads: k.Shape[1], QLength: q.Shape[2], KvLength: k.Shape[2], HeadDim: q.Shape[3], ValueDim: v.Shape[3],
            ScaleBits: Bits(a.Scale), Causal: a.Causal ? 1 : 0).Encode();
        return Step(AttentionArgs.Kernel, args, q.Shape[0] * q.Shape[1] * q.Shape[2], k.Shape[2] * (q.Shape[3] + v.Shape[3]), a.Label);
    }

    private PlanStep FlashAttention(AttentionCall a)
    {
        var (q, k, v, m) = (a.Q, a.K, a.V, a.Mask);
        var sq = q.Shape[2];
        var sk = k.Shape[2];
        var args = new FlashAttentionArgs<Dim>(
            Q: q.Slot, QOffset: q.Offset, QStrideB: q.Strides[0], QStrideH: q.Strides[1], QStrideS: q.Strides[2],
            K: k.Slot, KOffset: k.Offset, KStrideB: k.Strides[0], KStrideH: k.Strides[1], KStrideS: k.Strides[2],
            V: v.Slot, VOffset: v.Offset, VStrideB: v.Strides[0], VStrideH: v.Strides[1], VStrideS: v.Strides[2],
            Mask: m?.Slot ?? -1, MaskOffset: m?.Offset ?? 0, MaskStrideB: m?.Strides[0] ?? 0, MaskStrideH: m?.Strides[1] ?? 0,
            MaskStrideS: m?.Strides[2] ?? 0, MaskStrideK: m?.Strides[3] ?? 0, MaskIsBool: m?.DType == DType.Bool ? 1 : 0,
            Y: a.Y, Batch: q.Shape[0], QHeads: q.Shape[1], KvHeads: k.Shape[1], QLength: sq, KvLength: sk, HeadDim: q.Shape[3], ValueDim: v.Shape[3],
            ScaleBits: Bits(a.Scale), Causal: a.Causal ? 1 : 0, BlockQ: AttentionQueryBlock, VectorBits: RowVectorBits).Encode();
        var items = q.Shape[0] * q.Shape[1] * ((sq + (AttentionQueryBlock - 1)) / AttentionQueryBlock);
        var cost = Dim.Of(AttentionQueryBlock) * (sk + 1) * (q.Shape[3] + v.Shape[3]);
        return Step(FlashAttentionArgs.Kernel, args, items, cost, a.Label);
    }

    private static PlanStep Conv(ConvCall c)
    {
        var (x, w, at) = (c.X, c.W, c.Attrs);
        var args = new ConvArgs<Dim>(
            X: x.Slot, W: w.Slot, Bias: c.Bias, Y: c.Y, DType: (int)c.DType, Batch: x.Shape[0], InChannels: x.Shape[1], OutChannels: c.OutShape[1], Groups: at.Groups,
            InSpatial: x.Shape.Skip(2).ToArray(), Kernel: w.Shape.Skip(2).ToArray(), OutSpatial: c.OutShape.Skip(2).ToArray(),
            Stride: Dims(at.Stride), Padding: Dims(at.Padding), Dilation: Dims(at.Dilation));
        var cost = Prod(c.OutShape.Skip(2)) * Prod(w.Shape.Skip(2)) * x.Shape[1] / at.Groups;
        // float32 convolutions go through the GEMM (windows unfolded into columns), which splits its own work over the
        // pool and applies the epilogue (residual, ReLU) to its finished tiles.
        if (c.Op == Op.Conv && c.DType == DType.F32)
        {
            var encoded = c.HasEpilogue ? args.Encode(r => r, c.Residual, c.Relu ? 1 : 0) : args.Encode(r => r);
            return Step(ConvArgs.GemmKernel, encoded, Dim.One, Dim.Zero, c.Label);
        }

        if (c.HasEpilogue) throw new NotSupportedException($"{c.Label}: only a float32 convolution takes a residual or ReLU epilogue");
        return Step(c.Op == Op.Conv ? ConvArgs.Kernel : ConvArgs.TransposeKernel, args.Encode(r => r), x.Shape[0] * c.OutShape[1], cost, c.Label);
    }

    private static PlanStep ConvMaxPool(ConvMaxPoolCall c)
    {
        var (x, w, at, pool) = (c.X, c.W, c.Attrs, c.Pool);
        var conv = new ConvArgs<Dim>(
            X: x.Slot, W: w.Slot, Bias: c.Bias, Y: c.Y, DType: (int)DType.F32, Batch: x.Shape[0], InChannels: x.Shape[1], OutChannels: c.ConvShape[1], Groups: at.Groups,
            InSpatial: x.Shape.Skip(2).ToArray(), Kernel: w.Shape.Skip(2).ToArray(), OutSpatial: c.ConvShape.Skip(2).ToArray(),
            Stride: Dims(at.Stride), Padding: Dims(at.Padding), Dilation: Dims(at.Dilation));
        var args = new ConvMaxPoolArgs<Dim>(
            conv, c.Relu ? 1 : 0, Dims(pool.Kernel), Dims(pool.Stride), Dims(pool.Padding), c.OutShape.Skip(2).ToArray());
        return Step(ConvMaxPoolArgs.Kernel, args.Encode(r => r), Dim.One, Dim.Zero, c.Label);
    }

    private static PlanStep Pool(PoolCall p)
    {
        var (x, at) = (p.X, p.Attrs);
        var args = new PoolArgs<Dim>(
            X: x.Slot, Y: p.Y, DType: (int)p.DType, IsMax: p.Op == Op.MaxPool ? 1 : 0, CountIncludePad: at.CountIncludePad ? 1 : 0,
            InSpatial: x.Shape.Skip(2).ToArray(), Kernel: Dims(at.Kernel), Stride: Dims(at.Stride), Padding: Dims(at.Padding), OutSpatial: p.OutShape.Skip(2).ToArray());
        return Step(PoolArgs.Kernel, args.Encode(r => r), x.Shape[0] * x.Shape[1], Prod(p.OutShape.Skip(2)) * at.Kernel.Aggregate(1, (q, k) => q * k), p.Label);
    }
}
