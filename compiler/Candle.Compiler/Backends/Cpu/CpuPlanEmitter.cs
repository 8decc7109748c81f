using Candle.Compiler.Backends.Cpu.Emit;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Runtime.Kernels.Cpu;
using Candle.Runtime.Plans;

namespace Candle.Compiler.Backends.Cpu;

/// <summary>
/// Turns a <see cref="KernelGraph"/> into a CPU <see cref="Plan"/>: generated kernels are rendered to IL
/// (<see cref="ElementwiseEmitter"/>, Vector512/256/128 with a scalar tail) in one kernel assembly, library calls
/// become calls of the runtime's hand-written kernels by name with their positional arguments, and each call gets
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

    private static Dim Prod(IEnumerable<Dim> dims) => dims.Aggregate(Dim.One, (a, d) => a * d);

    private static PlanStep Step(string kernel, IEnumerable<Dim> args, Dim work, Dim cost, string label) =>
        new(kernel, [.. args.Select(Expr)], Expr(work), Expr(cost), label);

    private PlanStep Step(KernelCall call) => call switch
    {
        ElementwiseCall e when !_options.GenerateKernels => Step("rt:fused", InterpretedArgs(e), e.Numel, 4 * Math.Max(1, e.Kernel.Body.Count - e.Inputs.Count), e.Label),
        ElementwiseCall e => Step("gen:" + Generated(e), ElementwiseArgs(e), e.Numel, Math.Max(1, e.Kernel.Body.Count - e.Inputs.Count), e.Label),
        CopyCall c => Copy(c),
        FillCall f => Step("rt:fill", [f.Slot, (int)f.DType, Bits(f.Value)], f.Count, f.Count == Dim.One ? 0 : 1, f.Label),
        ArangeCall a => Step("rt:arange", [a.Slot, (int)a.DType, Bits(a.Start), Bits(a.Step)], a.Length, 1, a.Label),
        CheckRangeCall r => Step("rt:check_range", [r.Start, r.End, r.Size], Dim.One, 0, r.Label),
        FallbackElementwiseCall f => Fallback(f),
        ReduceCall r => Step("rt:reduce", [(int)r.Op.ReduceKernelOp(), r.X, (int)r.XType, r.Y, (int)r.YType, r.RowLength], r.Rows, r.RowLength, r.Label),
        RowCall { Op: Op.CumSum } r => Step("rt:cumsum", [r.X, (int)r.XType, r.Y, (int)r.YType, r.RowLength], r.Rows, r.RowLength, r.Label),
        RowCall r => Step(r.Op == Op.Softmax ? "rt:softmax" : "rt:log_softmax", [r.X, r.Y, (int)r.YType, r.RowLength, RowVectorBits], r.Rows, r.RowLength * 3, r.Label),
        NormCall { Op: Op.LayerNorm } n => Step("rt:layer_norm", [n.X, n.Weight, n.Bias, n.Y, (int)n.DType, n.RowLength, Bits(n.Eps), RowVectorBits], n.Rows, n.RowLength * 3, n.Label),
        NormCall n => Step("rt:rms_norm", [n.X, n.Weight, n.Y, (int)n.DType, n.RowLength, Bits(n.Eps), RowVectorBits], n.Rows, n.RowLength * 2, n.Label),
        GroupNormCall g => Step("rt:group_norm", [g.X, g.Weight, g.Bias, g.Y, (int)g.DType, g.Channels, g.Spatial, g.Groups, Bits(g.Eps)], g.Batch * g.Groups, g.Channels * g.Spatial / g.Groups * 3, g.Label),
        RopeCall r => Step("rt:rope", [r.X, r.Cos, r.Sin, r.Y, (int)r.DType, r.HeadDim, r.Interleaved ? 1 : 0], r.Rows, r.HeadDim * 2, r.Label),
        GemmCall g => Gemm(g),
        BatchedMatMulCall b => BatchedMatMul(b),
        AttentionCall a => a.DType == DType.F32 ? FlashAttention(a) : DenseAttention(a),
        ConvCall c => Conv(c),
        PoolCall p => Pool(p),
        IndexSelectCall i => Step("rt:index_select", [i.X.Slot, i.X.DType.SizeInBytes(), i.Index.Slot, (int)i.Index.DType, i.Y, i.Outer, i.AxisSize, i.Inner, i.Index.Numel], i.Outer * i.Index.Numel, i.Inner, i.Label),
        GatherCall g => Step("rt:gather", [g.X.Slot, g.X.DType.SizeInBytes(), g.Index.Slot, (int)g.Index.DType, g.Y, g.X.Rank, g.Axis, .. g.X.Shape, .. g.Index.Shape], g.Index.Numel, 1, g.Label),
        ScatterAddCall s => Step("rt:scatter_add", [s.X.Slot, s.Index.Slot, (int)s.Index.DType, s.Src.Slot, s.Y, (int)s.X.DType, s.X.Rank, s.Axis, .. s.X.Shape, .. s.Index.Shape, .. s.Src.Shape], 1, 0, s.Label),
        _ => throw new NotSupportedException($"the cpu backend has no kernel for {call.GetType().Name} ({call.Label})"),
    };

    /// <summary>Renders (or reuses) the IL kernel of a generated call and returns its name.</summary>
    private string Generated(ElementwiseCall e) => _module.GetOrAdd(e.Kernel.Key, e.Kernel.Hint, il => ElementwiseEmitter.Emit(il, e.Kernel, _lanes));

    /// <summary><c>outSlot, inSlot[n], shape[rank], then per input offset, strides[rank]</c>.</summary>
    internal static List<Dim> ElementwiseArgs(ElementwiseCall e)
    {
        var args = new List<Dim> { e.Output };
        args.AddRange(e.Inputs.Select(i => Dim.Of(i.Slot)));
        args.AddRange(e.Shape);
        foreach (var i in e.Inputs)
        {
            args.Add(i.Offset);
            args.AddRange(i.Strides);
        }

        return args;
    }

    /// <summary>
    /// The arguments of the runtime's interpreted elementwise kernel (<see cref="ElementwiseInterpreter"/>): the
    /// operands as for a generated kernel, with the dtypes and the body that a generated kernel bakes into its code.
    /// </summary>
    internal static List<Dim> InterpretedArgs(ElementwiseCall e)
    {
        var spec = e.Kernel;
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
        var args = new List<Dim> { dst.Slot, src.Slot, src.DType.SizeInBytes(), cs.Length };
        args.AddRange(cs);
        args.Add(dst.Offset);
        args.AddRange(cstr[0]);
        args.Add(src.Offset);
        args.AddRange(cstr[1]);
        return Step("rt:copy", args, src.Numel, 1, c.Label);
    }

    private static PlanStep Fallback(FallbackElementwiseCall f)
    {
        var args = new List<Dim> { f.Op.Elementwise().Code, f.Output, (int)f.DType, f.Inputs.Count, f.Shape.Length };
        args.AddRange(f.Shape);
        foreach (var v in f.Inputs)
        {
            args.Add(v.Slot);
            args.Add((int)v.DType);
            args.Add(v.Offset);
            args.AddRange(v.Rank == 0 ? [Dim.Zero] : v.Strides);
        }

        return Step("rt:elementwise", args, f.Numel, 4, f.Label);
    }

    private PlanStep Gemm(GemmCall g)
    {
        var (a, b) = (g.A, g.B);
        int r = a.Rank;
        var gemmArgs = new List<Dim>
        {
            a.Slot, a.Offset, g.ARowStride, a.Strides[r - 1],
            b.Slot, b.Offset, b.Strides[b.Rank - 2], b.Strides[b.Rank - 1],
            g.C, g.Rows, g.N, g.K,
            // A bfloat16 weight (a deferred cast) is always packed for products of many rows: the kernel has no other way.
            (_options.PrepackWeights || b.StoredDType is not null) && g.BIsWeight && _kindOf(b.Slot) == BufferKind.Weight ? 1 : 0,
            (int)(b.StoredDType ?? DType.F32),
        };
        var args = new List<Dim>();
        string kernel = "rt:gemm";
        if (g.Epilogue is { } epi && !_options.GenerateKernels)
        {
            args.AddRange(InterpretedArgs(epi));
            kernel += "@rt:fused";
        }
        else if (g.Epilogue is { } epi2)
        {
            args.AddRange(ElementwiseArgs(epi2));
            kernel += "@gen:" + Generated(epi2);
        }

        int e = args.Count;
        args.AddRange(gemmArgs);
        args.Add(e);
        return Step(kernel, args, Dim.One, Dim.Zero, g.Label);
    }

    private static PlanStep BatchedMatMul(BatchedMatMulCall m)
    {
        var (a, b) = (m.A, m.B);
        int r = a.Rank, br = m.BatchShape.Length;
        var args = new List<Dim> { a.Slot, b.Slot, m.C, (int)m.DType, m.M, m.N, m.K, br };
        args.AddRange(m.BatchShape);
        args.Add(a.Offset);
        args.AddRange(a.Strides.Take(br));
        args.Add(a.Strides[r - 2]);
        args.Add(a.Strides[r - 1]);
        args.Add(b.Offset);
        args.AddRange(b.Strides.Take(br));
        args.Add(b.Strides[r - 2]);
        args.Add(b.Strides[r - 1]);

        // Sgemm splits its own work over the pool.
        return m.DType == DType.F32
            ? Step("rt:sgemm", args, Dim.One, Dim.Zero, m.Label)
            : Step("rt:matmul", args, Prod(m.BatchShape) * m.M, m.N * m.K, m.Label);
    }

    private static PlanStep DenseAttention(AttentionCall a)
    {
        var (q, k, v, m) = (a.Q, a.K, a.V, a.Mask);
        var args = new List<Dim>
        {
            q.Slot, k.Slot, v.Slot, m?.Slot ?? -1, a.Y, (int)a.DType, (int)(m?.DType ?? DType.Bool),
            q.Shape[0], q.Shape[1], k.Shape[1], q.Shape[2], k.Shape[2], q.Shape[3], v.Shape[3], Bits(a.Scale), a.Causal ? 1 : 0,
        };
        return Step("rt:attention", args, q.Shape[0] * q.Shape[1] * q.Shape[2], k.Shape[2] * (q.Shape[3] + v.Shape[3]), a.Label);
    }

    private PlanStep FlashAttention(AttentionCall a)
    {
        var (q, k, v, m) = (a.Q, a.K, a.V, a.Mask);
        var args = new List<Dim>
        {
            q.Slot, q.Offset, q.Strides[0], q.Strides[1], q.Strides[2],
            k.Slot, k.Offset, k.Strides[0], k.Strides[1], k.Strides[2],
            v.Slot, v.Offset, v.Strides[0], v.Strides[1], v.Strides[2],
        };
        if (m is null)
        {
            args.AddRange([-1, 0, 0, 0, 0, 0, 0]);
        }
        else
        {
            args.AddRange([m.Slot, m.Offset, m.Strides[0], m.Strides[1], m.Strides[2], m.Strides[3], m.DType == DType.Bool ? 1 : 0]);
        }

        var sq = q.Shape[2];
        var sk = k.Shape[2];
        args.AddRange([a.Y, q.Shape[0], q.Shape[1], k.Shape[1], sq, sk, q.Shape[3], v.Shape[3], Bits(a.Scale), a.Causal ? 1 : 0, AttentionQueryBlock, RowVectorBits]);
        var items = q.Shape[0] * q.Shape[1] * ((sq + (AttentionQueryBlock - 1)) / AttentionQueryBlock);
        var cost = Dim.Of(AttentionQueryBlock) * (sk + 1) * (q.Shape[3] + v.Shape[3]);
        return Step("rt:flash_attention", args, items, cost, a.Label);
    }

    private static PlanStep Conv(ConvCall c)
    {
        var (x, w, at) = (c.X, c.W, c.Attrs);
        int sp = x.Rank - 2;
        var args = new List<Dim> { x.Slot, w.Slot, c.Bias, c.Y, (int)c.DType, sp, x.Shape[0], x.Shape[1], c.OutShape[1], at.Groups };
        args.AddRange(x.Shape.Skip(2));
        args.AddRange(w.Shape.Skip(2));
        args.AddRange(c.OutShape.Skip(2));
        args.AddRange(at.Stride.Select(i => Dim.Of(i)));
        args.AddRange(at.Padding.Select(i => Dim.Of(i)));
        args.AddRange(at.Dilation.Select(i => Dim.Of(i)));
        var cost = Prod(c.OutShape.Skip(2)) * Prod(w.Shape.Skip(2)) * x.Shape[1] / at.Groups;
        return Step(c.Op == Op.Conv ? "rt:conv" : "rt:conv_transpose", args, x.Shape[0] * c.OutShape[1], cost, c.Label);
    }

    private static PlanStep Pool(PoolCall p)
    {
        var (x, at) = (p.X, p.Attrs);
        var args = new List<Dim> { x.Slot, p.Y, (int)p.DType, at.Kernel.Count, p.Op == Op.MaxPool ? 1 : 0, at.CountIncludePad ? 1 : 0 };
        args.AddRange(x.Shape.Skip(2));
        args.AddRange(at.Kernel.Select(i => Dim.Of(i)));
        args.AddRange(at.Stride.Select(i => Dim.Of(i)));
        args.AddRange(at.Padding.Select(i => Dim.Of(i)));
        args.AddRange(p.OutShape.Skip(2));
        return Step("rt:pool", args, x.Shape[0] * x.Shape[1], Prod(p.OutShape.Skip(2)) * at.Kernel.Aggregate(1, (q, k) => q * k), p.Label);
    }
}
