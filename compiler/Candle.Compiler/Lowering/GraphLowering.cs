using Candle.Compiler.Backends.Cpu.Emit;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime;
using Candle.Runtime.Plans;

namespace Candle.Compiler.Lowering;

/// <summary>
/// Lowers a graph to a <see cref="Plan"/>: movement ops become views (no copies), elementwise ops and fused
/// elementwise groups become generated IL kernels, everything else calls hand-written runtime kernels over
/// contiguous buffers (views are materialized first where a kernel needs them). Other fused groups are lowered
/// node by node from their bodies.
/// </summary>
internal sealed partial class GraphLowering
{
    private readonly PlanBuilder _pb = new();
    private readonly KernelModule _module = new();
    private readonly Type _lanes;
    private readonly LoweringOptions _options;

    private GraphLowering(LoweringOptions options)
    {
        _options = options;
        _lanes = ElementwiseEmitter.LanesFor(options.VectorBits);
    }

    /// <summary>Lowers <paramref name="graph"/> (in its attached <see cref="Schedule"/>'s order when it has one).</summary>
    /// <param name="graph">The graph.</param>
    /// <param name="options">Threads, vector width and opt level.</param>
    public static Plan Lower(Graph graph, LoweringOptions options)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(options);
        var self = new GraphLowering(options);
        return self.Run(graph, options.Threads);
    }

    private Plan Run(Graph graph, int threads)
    {
        var values = new Dictionary<Node, TensorView>(ReferenceEqualityComparer.Instance);
        var inputs = new List<PlanTensor>();
        for (int i = 0; i < graph.Inputs.Length; i++)
        {
            var n = graph.Inputs[i];
            int slot = _pb.AddInput(i, n.DType, n.Shape);
            values[n] = TensorView.Dense(slot, n.DType, n.Shape);
            inputs.Add(new PlanTensor(n.Attr<InputAttrs>().Name, n.DType, [.. n.Shape.Select(PlanBuilder.Expr)], slot));
        }

        LowerNodes(Schedule.For(graph) is { } schedule && schedule.Order.Count == graph.Nodes.Count ? schedule.Order : graph.Nodes, values);

        var outputs = new List<PlanTensor>();
        var claimed = new HashSet<int>();
        for (int o = 0; o < graph.Outputs.Length; o++)
        {
            var node = graph.Outputs[o];
            var v = values[node];
            if (v.IsDeferredCast) v = MaterializeCast(v);
            int slot;
            Dim bytes = node.Shape.Numel * node.DType.SizeInBytes();
            if (!v.IsConstant && v.IsDense && _pb.KindOf(v.Slot) == BufferKind.Arena && _pb.BytesOf(v.Slot) == bytes && claimed.Add(v.Slot))
            {
                slot = v.Slot;
                _pb.MakeOutput(slot, o);
            }
            else
            {
                slot = _pb.AddOutput(o, bytes);
                var dst = TensorView.Dense(slot, node.DType, node.Shape);
                if (v.IsConstant) Fill(dst, v.Constant!.Value, $"output {graph.OutputNames[o]}");
                else Copy(v, dst, $"output {graph.OutputNames[o]}");
            }

            outputs.Add(new PlanTensor(graph.OutputNames[o], node.DType, [.. node.Shape.Select(PlanBuilder.Expr)], slot));
        }

        var def = _pb.Build(inputs, outputs, threads);
        var (asm, dump) = _module.Build();
        return new Plan(def, asm, _pb.Weights, dump);
    }

    private void LowerNodes(IEnumerable<Node> nodes, Dictionary<Node, TensorView> values)
    {
        foreach (var node in nodes)
        {
            if (values.ContainsKey(node)) continue;
            try
            {
                var ins = node.Inputs.Select(i => values[i]).ToArray();
                if (!TakesDeferredCasts(node))
                {
                    for (int i = 0; i < ins.Length; i++)
                    {
                        if (ins[i].IsDeferredCast) ins[i] = MaterializeCast(ins[i]);
                    }
                }

                values[node] = LowerNode(node, ins);
            }
            catch (Exception e) when (e is NotSupportedException or ArgumentException or InvalidOperationException && e is not ObjectDisposedException)
            {
                throw new NotSupportedException($"cpu backend: cannot lower {node.Op.Name()} {node.TypeString} (inputs {string.Join(", ", node.Inputs.Select(i => i.TypeString))}): {e.Message}", e);
            }
        }
    }

    private TensorView LowerNode(Node node, TensorView[] ins)
    {
        switch (node.Op)
        {
            case Op.Input:
                throw new InvalidOperationException("input is not a graph input");
            case Op.Constant:
            {
                var a = node.Attr<ConstantAttrs>();
                return TensorView.Dense(_pb.AddWeight(a.Data, a.Name), node.DType, node.Shape);
            }

            case Op.Full:
            {
                var a = node.Attr<FullAttrs>();
                return TensorView.Const(a.Value, node.DType, node.Shape);
            }

            case Op.Fused:
                return LowerFused(node, ins);
            case var op when op.IsElementwise():
                return LowerElementwise(node, ins);
            case var op when op.IsView():
                return LowerView(node, ins[0]);
            default:
                return LowerKernelOp(node, ins);
        }
    }

    private TensorView LowerFused(Node node, TensorView[] ins)
    {
        if (node.Attr<FusedAttrs>().Kind == FusedKinds.MatMulEpilogue && TryLowerMatMulEpilogue(node, ins) is { } fused) return fused;
        var body = node.Attr<FusedAttrs>().Body;
        var result = body.Outputs[0];
        bool pure = result.Op is not (Op.Input or Op.Full) && body.Nodes.All(n => n.Op is Op.Input or Op.Full || ElementwiseSpec.Supports(n));
        if (pure)
        {
            var map = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
            var bodyOps = new List<BodyOp>();
            var kernelInputs = new List<TensorView>();
            foreach (var n in body.Nodes)
            {
                if (n.Op == Op.Input)
                {
                    var v = ins[body.Inputs.IndexOf(n)];
                    if (v.IsConstant)
                    {
                        bodyOps.Add(new BodyOp(Op.Full, n.DType, [], Constant: v.Constant!.Value));
                    }
                    else
                    {
                        kernelInputs.Add(v);
                        bodyOps.Add(new BodyOp(Op.Input, n.DType, [], Input: kernelInputs.Count - 1));
                    }
                }
                else if (n.Op == Op.Full)
                {
                    bodyOps.Add(new BodyOp(Op.Full, n.DType, [], Constant: n.Attr<FullAttrs>().Value));
                }
                else
                {
                    bodyOps.Add(new BodyOp(n.Op, n.DType, [.. n.Inputs.Select(i => map[i])]));
                }

                map[n] = bodyOps.Count - 1;
            }

            // The result must be the last op.
            if (map[result] != bodyOps.Count - 1)
            {
                bodyOps.Add(bodyOps[map[result]]);
            }

            return EmitElementwise(bodyOps, kernelInputs, node.DType, node.Shape, $"fused {node.Attr<FusedAttrs>().Kind}");
        }

        var values = new Dictionary<Node, TensorView>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < body.Inputs.Length; i++) values[body.Inputs[i]] = ins[i];
        LowerNodes(body.Nodes, values);
        return values[result];
    }

    // The nodes that accept a deferred cast as it is: views that keep it (see LowerView) and matmuls.
    private static bool TakesDeferredCasts(Node node) =>
        node.Op is Op.Permute or Op.Expand or Op.Reshape or Op.MatMul
        || (node.Op == Op.Fused && node.Attr<FusedAttrs>().Kind == FusedKinds.MatMulEpilogue);

    // A float32 cast of a bfloat16 weight is left to the GEMM, which widens the weight as it reads or packs it
    // (no float32 copy of the weight in the plan); needs prepacking, as only packed weights serve many rows.
    private TensorView? TryDeferCast(Node node, TensorView[] ins)
    {
        if (node.Op != Op.Cast || node.DType != DType.F32 || !_options.PrepackWeights) return null;
        var v = ins[0];
        if (v.IsConstant || v.IsDeferredCast || v.DType != DType.BF16 || _pb.KindOf(v.Slot) != BufferKind.Weight) return null;
        return v with { DType = DType.F32, StoredDType = DType.BF16 };
    }

    /// <summary>The deferred cast <paramref name="v"/> computed into a float32 buffer.</summary>
    private TensorView MaterializeCast(TensorView v)
    {
        var stored = v with { DType = v.StoredDType!.Value, StoredDType = null };
        var body = new List<BodyOp>
        {
            new(Op.Input, stored.DType, [], Input: 0),
            new(Op.Cast, v.DType, [0]),
        };
        return EmitElementwise(body, [stored], v.DType, new Shape(v.Shape), "cast weight");
    }

    private TensorView LowerElementwise(Node node, TensorView[] ins)
    {
        if (TryDeferCast(node, ins) is { } deferred) return deferred;
        if (ElementwiseSpec.Supports(node))
        {
            var body = new List<BodyOp>();
            var kernelInputs = new List<TensorView>();
            for (int k = 0; k < ins.Length; k++)
            {
                if (ins[k].IsConstant)
                {
                    body.Add(new BodyOp(Op.Full, node.Inputs[k].DType, [], Constant: ins[k].Constant!.Value));
                }
                else
                {
                    kernelInputs.Add(ins[k]);
                    body.Add(new BodyOp(Op.Input, node.Inputs[k].DType, [], Input: kernelInputs.Count - 1));
                }
            }

            body.Add(new BodyOp(node.Op, node.DType, [.. Enumerable.Range(0, ins.Length)]));
            return EmitElementwise(body, kernelInputs, node.DType, node.Shape, node.Op.Name());
        }

        return FallbackElementwise(node, ins);
    }

    private TensorView EmitElementwise(List<BodyOp> body, List<TensorView> inputs, DType outDType, Shape outShape, string label)
    {
        int outSlot = _pb.AddArena(outDType, [.. outShape]);
        var (name, args) = BuildElementwise(body, inputs, outDType, outShape, outSlot);
        _pb.AddStep("gen:" + name, args, outShape.Numel, Math.Max(1, body.Count - inputs.Count), label, [outSlot, .. inputs.Select(v => v.Slot)]);
        return TensorView.Dense(outSlot, outDType, [.. outShape]);
    }

    /// <summary>Generates (or reuses) the kernel computing <paramref name="body"/> into the dense buffer <paramref name="outSlot"/>; returns its name and arguments.</summary>
    private (string Name, List<Dim> Args) BuildElementwise(List<BodyOp> body, List<TensorView> inputs, DType outDType, Shape outShape, int outSlot)
    {
        var (shape, strides) = Collapse([.. outShape], [.. inputs.Select(v => v.Strides)]);
        int rank = shape.Length;
        var specInputs = inputs.Select((v, k) => new ElementwiseInput(v.DType, AccessOf(strides[k][rank - 1]))).ToList();
        var spec = new ElementwiseSpec(specInputs, body, outDType, rank);
        string name = _module.GetOrAdd(spec.Key, spec.Hint, il => ElementwiseEmitter.Emit(il, spec, _lanes));
        var args = new List<Dim> { outSlot };
        args.AddRange(inputs.Select(v => Dim.Of(v.Slot)));
        args.AddRange(shape);
        for (int k = 0; k < inputs.Count; k++)
        {
            args.Add(inputs[k].Offset);
            args.AddRange(strides[k]);
        }

        return (name, args);
    }

    private static InnerAccess AccessOf(Dim stride) => stride.TryGetConstant() switch
    {
        1 => InnerAccess.Contiguous,
        0 => InnerAccess.Broadcast,
        _ => InnerAccess.Strided,
    };

    /// <summary>
    /// Drops size-1 dims and merges neighbours that every operand walks contiguously (the output is dense);
    /// returns at least one dim.
    /// </summary>
    private static (Dim[] Shape, Dim[][] Strides) Collapse(Dim[] shape, Dim[][] strides)
    {
        var dims = new List<int>();
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] != Dim.One) dims.Add(d);
        }

        var outShape = new List<Dim>();
        var outStrides = strides.Select(_ => new List<Dim>()).ToArray();
        foreach (int d in dims)
        {
            if (outShape.Count > 0)
            {
                int last = outShape.Count - 1;
                bool merge = true;
                for (int k = 0; k < strides.Length && merge; k++)
                {
                    merge = outStrides[k][last] == strides[k][d] * shape[d];
                }

                if (merge)
                {
                    outShape[last] *= shape[d];
                    for (int k = 0; k < strides.Length; k++) outStrides[k][last] = strides[k][d];
                    continue;
                }
            }

            outShape.Add(shape[d]);
            for (int k = 0; k < strides.Length; k++) outStrides[k].Add(strides[k][d]);
        }

        if (outShape.Count == 0)
        {
            outShape.Add(Dim.One);
            foreach (var s in outStrides) s.Add(Dim.Zero);
        }

        return ([.. outShape], [.. outStrides.Select(s => s.ToArray())]);
    }

    private TensorView FallbackElementwise(Node node, TensorView[] ins)
    {
        var views = ins.Select(v => v.IsConstant ? ScalarBuffer(v) : v).ToArray();
        var shape = node.Shape.Count == 0 ? new[] { Dim.One } : [.. node.Shape];
        int outSlot = _pb.AddArena(node.DType, shape);
        var op = Enum.Parse<Runtime.Kernels.Cpu.ElementwiseOp>(node.Op.ToString());
        var args = new List<Dim> { (int)op, outSlot, (int)node.DType, views.Length, shape.Length };
        args.AddRange(shape);
        foreach (var v in views)
        {
            args.Add(v.Slot);
            args.Add((int)v.DType);
            args.Add(v.Offset);
            args.AddRange(v.Rank == 0 ? [Dim.Zero] : v.Strides);
        }

        _pb.AddStep("rt:elementwise", args, node.Shape.Numel, 4, node.Op.Name(), [outSlot, .. views.Select(v => v.Slot)]);
        return TensorView.Dense(outSlot, node.DType, node.Shape);
    }

    /// <summary>A constant as a one-element buffer viewed with zero strides.</summary>
    private TensorView ScalarBuffer(TensorView c)
    {
        int slot = _pb.AddArena(c.DType, [Dim.One]);
        _pb.AddStep("rt:fill", [slot, (int)c.DType, BitConverter.DoubleToInt64Bits(c.Constant!.Value)], Dim.One, 0, "constant", slot);
        return new TensorView(slot, Dim.Zero, c.Shape, [.. c.Shape.Select(_ => Dim.Zero)], c.DType);
    }

    /// <summary>The value as a dense buffer (offset 0, row-major), copying or filling when needed.</summary>
    private TensorView Dense(TensorView v, string why)
    {
        if (!v.IsConstant && v.IsDense) return v;
        int slot = _pb.AddArena(v.DType, v.Shape);
        var dst = TensorView.Dense(slot, v.DType, v.Shape);
        if (v.IsConstant) Fill(dst, v.Constant!.Value, why);
        else Copy(v, dst, why);
        return dst;
    }

    private void Fill(TensorView dst, double value, string why) =>
        _pb.AddStep("rt:fill", [dst.Slot, (int)dst.DType, BitConverter.DoubleToInt64Bits(value)], dst.Numel, 1, $"fill for {why}", dst.Slot);

    /// <summary>Copies a view into another view of the same shape.</summary>
    private void Copy(TensorView src, TensorView dst, string why)
    {
        if (src.IsConstant)
        {
            src = ScalarBuffer(src);
        }

        var shape = src.Rank == 0 ? [Dim.One] : src.Shape;
        var ss = src.Rank == 0 ? [Dim.Zero] : src.Strides;
        var ds = dst.Rank == 0 ? [Dim.Zero] : dst.Strides;
        var (cs, cstr) = Collapse(shape, [ds, ss]);
        var args = new List<Dim> { dst.Slot, src.Slot, src.DType.SizeInBytes(), cs.Length };
        args.AddRange(cs);
        args.Add(dst.Offset);
        args.AddRange(cstr[0]);
        args.Add(src.Offset);
        args.AddRange(cstr[1]);
        _pb.AddStep("rt:copy", args, src.Numel, 1, $"copy for {why}", dst.Slot, src.Slot);
    }
}
