using System.Collections.Immutable;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime;
using Candle.Runtime.Plans;

namespace Candle.Compiler.Scheduling;

/// <summary>
/// Turns an optimized graph into a <see cref="KernelGraph"/> for any backend: movement ops become views (no copies),
/// elementwise ops and fused elementwise groups become generated kernels described by kernel IR
/// (<see cref="ElementwiseSpec"/>), matmul epilogues ride on their GEMM, everything else becomes a typed library call
/// over views or dense buffers (views are materialized first where a call needs them). Donated inputs are written in
/// place where nothing else reads them. Other fused groups are scheduled node by node from their bodies.
/// </summary>
internal sealed partial class Scheduler
{
    private readonly KernelGraphBuilder _kg = new();

    // Donated graph inputs, and how many nodes (and graph outputs) read each node: a donated input read once may be
    // written in place.
    private readonly HashSet<Node> _donated = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Node, int> _uses = new(ReferenceEqualityComparer.Instance);

    // The graph being scheduled, and the outputs already copied into their own buffers (by output index).
    private Graph? _graph;
    private readonly Dictionary<int, int> _copiedOutputs = [];
    private readonly Dictionary<Node, List<Node>> _outputViews = new(ReferenceEqualityComparer.Instance);

    // Quantized constants read by ops other than the quantized product and lookup: these get a float32 copy.
    private readonly HashSet<Node> _plainQuantUses = new(ReferenceEqualityComparer.Instance);

    // Whether reductions (with their fused producers and consumers) become generated kernels (ReductionCall) rather
    // than library calls (ReduceCall after their producers).
    private readonly bool _generateReductions;

    // Whether reduce_broadcast groups become generated row kernels without generated reductions otherwise.
    private readonly bool _broadcastReductions;

    // Whether library calls that can read strided views (rope, attention of every dtype) get them instead of dense
    // copies.
    private readonly bool _stridedOperands;

    // Whether an add read by an rms_norm becomes one call with it (NormCall.Residual) that writes both.
    private readonly bool _residualNorms;

    // Whether a library sum or mean over leading dims reads its operand as it lies (ColumnReduceCall) rather than
    // through a transposing copy.
    private readonly bool _columnReductions;

    // Whether a slice_scatter into a constant writes the constant only outside the slice.
    private readonly bool _fillsOutsideSlices;

    // Whether consecutive ropes and row copies become one RopeRowsCall (MergeRopeRows).
    private readonly bool _ropeRows;
    private readonly bool _convPools;

    // Graph nodes scheduled ahead of their turn by a call of an earlier node (an rms_norm with its residual add, the
    // further outputs of a multi-output group).
    private readonly List<Node> _scheduledAhead = [];

    // For each fused node of a multi-output group, the group's nodes by output (built when the first is scheduled).
    private Dictionary<Node, List<Node>>? _siblings;

    private Scheduler(bool generateReductions, bool stridedOperands, bool residualNorms, bool columnReductions, bool fillsOutsideSlices, bool ropeRows, bool convPools, bool broadcastReductions)
    {
        _convPools = convPools;
        _broadcastReductions = broadcastReductions;
        _ropeRows = ropeRows;
        _fillsOutsideSlices = fillsOutsideSlices;
        _generateReductions = generateReductions;
        _stridedOperands = stridedOperands;
        _residualNorms = residualNorms;
        _columnReductions = columnReductions;
    }

    /// <summary>
    /// Schedules <paramref name="graph"/> (in its attached <see cref="Passes.Schedule"/>'s order when it has one).
    /// With <paramref name="generateReductions"/>, sum, mean, max, min and prod over float dtypes and their fused
    /// <see cref="FusedKinds.Reduce"/> groups become generated reductions (<see cref="ReductionCall"/>); otherwise
    /// they are library calls (<see cref="ReduceCall"/>). With <paramref name="stridedOperands"/>, <see cref="RopeCall"/>
    /// and <see cref="AttentionCall"/> of every dtype read their operands as views (permuted, sliced or broadcast; unit
    /// stride along the last dim for attention) instead of dense copies; the backend's kernels must take strides. With
    /// <paramref name="residualNorms"/>, an add of two same-shaped values read by an rms_norm becomes one
    /// <see cref="NormCall"/> with a <see cref="NormCall.Residual"/> that writes the sum and the normalized sum. With
    /// <paramref name="columnReductions"/>, a library sum or mean of a float tensor over its leading dims (a bias
    /// gradient) becomes a <see cref="ColumnReduceCall"/> over the operand as it lies, not a <see cref="ReduceCall"/>
    /// after a transposing copy. With <paramref name="fillsOutsideSlices"/>, a slice_scatter into a constant (a slice's
    /// gradient) writes the constant only outside the slice, and nothing when the slice covers the whole buffer. With
    /// <paramref name="ropeRows"/>, consecutive ropes and row copies (a decode step's query and key ropes and the new key
    /// and value rows written into the cache) become one <see cref="RopeRowsCall"/> that writes the rotated key row
    /// straight into the cache. With <paramref name="convPools"/>, a float32 2-d convolution (or relu(conv)) read only by
    /// a max pool becomes one <see cref="ConvMaxPoolCall"/> that writes the pooled value alone. With
    /// <paramref name="broadcastReductions"/> (implied by <paramref name="generateReductions"/>),
    /// <see cref="FusedKinds.ReduceBroadcast"/> groups become <see cref="BroadcastReductionCall"/>s while other
    /// reductions stay library calls.
    /// </summary>
    /// <exception cref="NotSupportedException">A node cannot be scheduled (the message names it).</exception>
    public static KernelGraph Schedule(Graph graph, bool generateReductions = false, bool stridedOperands = false, bool residualNorms = false, bool columnReductions = false, bool fillsOutsideSlices = false, bool ropeRows = false, bool convPools = false, bool broadcastReductions = false)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return new Scheduler(generateReductions, stridedOperands, residualNorms, columnReductions, fillsOutsideSlices, ropeRows, convPools, broadcastReductions).Run(graph);
    }

    private KernelGraph Run(Graph graph)
    {
        var values = new Dictionary<Node, TensorView>(ReferenceEqualityComparer.Instance);
        var inputs = new List<KernelTensor>();
        for (int i = 0; i < graph.Inputs.Length; i++)
        {
            var n = graph.Inputs[i];
            int slot = _kg.AddInput(i, n.DType, n.Shape);
            values[n] = TensorView.Dense(slot, n.DType, n.Shape);
            inputs.Add(new KernelTensor(n.Attr<InputAttrs>().Name, n.DType, [.. n.Shape], slot));
        }

        foreach (var n in graph.Nodes)
        {
            foreach (var i in n.Inputs) _uses[i] = _uses.GetValueOrDefault(i) + 1;
        }

        foreach (var o in graph.Outputs) _uses[o] = _uses.GetValueOrDefault(o) + 1;
        FindPlainQuantUses(graph);
        FindPadsIntoConvs(graph);
        FindPadsIntoPools(graph);
        FindConvsIntoPools(graph);
        foreach (var n in graph.Inputs)
        {
            if (n.Attr<InputAttrs>().Donated) _donated.Add(n);
        }

        CountDonatedReaders(graph, values);
        _graphNodes.UnionWith(graph.Nodes);
        _graphValues = values;
        _graph = graph;
        FindOutputViews(graph);

        ScheduleNodes(Passes.Schedule.For(graph) is { } schedule && schedule.Order.Count == graph.Nodes.Count ? schedule.Order : graph.Nodes, values);

        var outputs = new List<KernelTensor>();
        var claimed = new HashSet<int>();
        for (int o = 0; o < graph.Outputs.Length; o++)
        {
            var node = graph.Outputs[o];
            var v = values[node];
            if (v.IsDeferredCast) v = MaterializeCast(v);
            int slot;
            Dim bytes = node.Shape.Numel * node.DType.SizeInBytes();
            if (_copiedOutputs.TryGetValue(o, out int copied))
            {
                slot = copied;
            }
            else if (!v.IsConstant && v.IsDense && _kg.KindOf(v.Slot) == BufferKind.Arena && _kg.BytesOf(v.Slot) == bytes && claimed.Add(v.Slot))
            {
                slot = v.Slot;
                _kg.MakeOutput(slot, o);
            }
            else if (!v.IsConstant && v.IsDense && _kg.KindOf(v.Slot) == BufferKind.Input && IsDonatedSlot(graph, v.Slot) && _kg.BytesOf(v.Slot) == bytes && claimed.Add(v.Slot))
            {
                // The output is a donated input's own buffer, written in place: it aliases that input.
                slot = v.Slot;
            }
            else
            {
                slot = _kg.AddOutput(o, bytes);
                var dst = TensorView.Dense(slot, node.DType, node.Shape);
                if (v.IsConstant) Fill(dst, v.Constant!.Value, $"output {graph.OutputNames[o]}");
                else Copy(v, dst, $"output {graph.OutputNames[o]}");
            }

            outputs.Add(new KernelTensor(graph.OutputNames[o], node.DType, [.. node.Shape], slot));
        }

        if (_ropeRows) MergeRopeRows();
        if (_columnReductions) MergeColumnProducts();
        return _kg.Build(inputs, outputs);
    }

    /// <summary>
    /// For each node, the chains of views and casts that make graph outputs of it (each chain in order, ending at the
    /// output): they are scheduled right after the node, so that an output needing a copy is copied early and an
    /// output cast to another dtype (a prefill's keys and values recorded in a float16 cache) is cast early. A graph
    /// output whose value is a view that must be copied into the output's own buffer is copied as soon as it is
    /// computed, not after the last node: the buffer it views is then free for the rest of the plan (a prefill's
    /// per-layer keys and values, permuted for attention, no longer stay live across every later layer).
    /// </summary>
    private void FindOutputViews(Graph graph)
    {
        foreach (var o in graph.Outputs.Distinct(ReferenceEqualityComparer.Instance).Cast<Node>())
        {
            var chain = new List<Node>();
            var n = o;
            while ((n.Op.IsView() || n.Op == Op.Cast) && n.Inputs.Length == 1)
            {
                chain.Insert(0, n);
                n = n.Inputs[0];
            }

            if (chain.Count == 0 || n.Op == Op.Input) continue;
            if (!_outputViews.TryGetValue(n, out var list)) _outputViews[n] = list = [];
            list.AddRange(chain);
        }
    }

    private void CopyOutputEarly(Node node, TensorView v)
    {
        if (v.IsConstant || v.IsDeferredCast || (v.IsDense && _kg.KindOf(v.Slot) is BufferKind.Arena or BufferKind.Input)) return;
        for (int o = 0; o < _graph!.Outputs.Length; o++)
        {
            if (!ReferenceEquals(_graph.Outputs[o], node) || _copiedOutputs.ContainsKey(o)) continue;
            int slot = _kg.AddOutput(o, node.Shape.Numel * node.DType.SizeInBytes());
            Copy(v, TensorView.Dense(slot, node.DType, node.Shape), $"output {_graph.OutputNames[o]}");
            _copiedOutputs[o] = slot;
        }
    }

    private bool IsDonatedSlot(Graph graph, int slot)
    {
        for (int i = 0; i < graph.Inputs.Length; i++)
        {
            if (_kg.InputSlot(i) == slot) return _donated.Contains(graph.Inputs[i]);
        }

        return false;
    }

    private void ScheduleNodes(IEnumerable<Node> nodes, Dictionary<Node, TensorView> values)
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

                var value = ReferenceEquals(values, _graphValues) && TryResidualNorm(node, ins, values) is { } fused ? fused
                    : ReferenceEquals(values, _graphValues) && TryRowWrite(node, ins) is { } written ? written : ScheduleNode(node, ins);
                values[node] = value;
                DoneReading(node);
                if (ReferenceEquals(values, _graphValues))
                {
                    DoneReadingArena(node);
                    var ahead = _scheduledAhead.ToList();
                    _scheduledAhead.Clear();
                    foreach (var a in ahead)
                    {
                        DoneReading(a);
                        DoneReadingArena(a);
                    }

                    foreach (var n in (Node[])[node, .. ahead.Where(a => a.Op == Op.Fused)])
                    {
                        if (_graphOutputs.Contains(n)) CopyOutputEarly(n, values[n]);
                        if (_outputViews.TryGetValue(n, out var views)) ScheduleNodes(views, values);
                    }
                }
            }
            catch (Exception e) when (e is NotSupportedException or ArgumentException or InvalidOperationException && e is not ObjectDisposedException)
            {
                throw new NotSupportedException($"cannot schedule {node.Op.Name()} {node.TypeString} (inputs {string.Join(", ", node.Inputs.Select(i => i.TypeString))}): {e.Message}", e);
            }
        }
    }

    private TensorView ScheduleNode(Node node, TensorView[] ins)
    {
        if (_convsIntoPools.ContainsKey(node)) return ScheduleConvMaxPool(node, ins);
        switch (node.Op)
        {
            case Op.Input:
                throw new InvalidOperationException("input is not a graph input");
            case Op.Constant:
            {
                var a = node.Attr<ConstantAttrs>();
                return TensorView.Dense(_kg.AddWeight(a.Data, a.Name), node.DType, node.Shape);
            }

            case Op.QuantConstant:
                return ScheduleQuantConstant(node);
            case Op.QuantMatMul:
                return ScheduleQuantMatMul(node, ins);
            case Op.QuantEmbedding:
                return ScheduleQuantEmbedding(node, ins);
            case Op.Full:
            {
                var a = node.Attr<FullAttrs>();
                return TensorView.Const(a.Value, node.DType, node.Shape);
            }

            case Op.Fused:
                return ScheduleFused(node, ins);
            case var op when op.IsElementwise():
                return ScheduleElementwise(node, ins);
            case var op when op.IsView():
                return ScheduleView(node, ins[0]);
            default:
                return ScheduleLibraryOp(node, ins);
        }
    }

    private TensorView ScheduleFused(Node node, TensorView[] ins)
    {
        if (node.Attr<FusedAttrs>().Kind == FusedKinds.MatMulEpilogue && TryScheduleMatMulEpilogue(node, ins) is { } fused) return fused;
        if (node.Attr<FusedAttrs>().Kind == FusedKinds.QuantMatMulEpilogue && TryScheduleQuantMatMulEpilogue(node, ins) is { } quantFused) return quantFused;
        if (node.Attr<FusedAttrs>().Kind == FusedKinds.ConvEpilogue && TryScheduleConvEpilogue(node, ins) is { } convolved) return convolved;
        if (node.Attr<FusedAttrs>().Kind == FusedKinds.Reduce && TryScheduleReduction(node, ins) is { } reduced) return reduced;
        if (node.Attr<FusedAttrs>().Kind == FusedKinds.ReduceBroadcast && TryScheduleBroadcastReduction(node, ins) is { } normalized) return normalized;
        var attrs = node.Attr<FusedAttrs>();
        var body = attrs.Body;
        var siblings = SiblingsOf(node);
        var results = siblings.Select(s => body.Outputs[s.Attr<FusedAttrs>().Output]).ToArray();
        bool pure = results.All(r => r.Op is not (Op.Input or Op.Full)) && body.Nodes.All(n => n.Op is Op.Input or Op.Full || ElementwiseSpec.Supports(n));
        if (pure && siblings.Count == 1)
        {
            var (ops, kernelInputs) = Linearize(body.Nodes, results[0], n => n.Op == Op.Input ? ins[body.Inputs.IndexOf(n)] : null);
            return EmitElementwise(ops, kernelInputs, node.DType, node.Shape, $"fused {attrs.Kind}", node);
        }

        if (pure) return EmitMultiOutput(node, siblings, results, ins);

        var values = new Dictionary<Node, TensorView>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < body.Inputs.Length; i++) values[body.Inputs[i]] = ins[i];
        ScheduleNodes(body.Nodes, values);
        for (int k = 0; k < siblings.Count; k++)
        {
            if (!ReferenceEquals(siblings[k], node)) ScheduledAhead(siblings[k], values[results[k]]);
        }

        return values[body.Outputs[attrs.Output]];
    }

    /// <summary>
    /// The graph nodes that stand for outputs of <paramref name="node"/>'s multi-output group (one body, the same
    /// inputs), <paramref name="node"/> among them, by output; just <paramref name="node"/> for a group of one output
    /// or outside the graph's own nodes.
    /// </summary>
    private List<Node> SiblingsOf(Node node)
    {
        var attrs = node.Attr<FusedAttrs>();
        if (attrs.Body.Outputs.Length == 1 || !_graphNodes.Contains(node)) return [node];
        if (_siblings is null)
        {
            _siblings = new Dictionary<Node, List<Node>>(ReferenceEqualityComparer.Instance);
            var byBody = new Dictionary<Graph, Dictionary<ImmutableArray<Node>, List<Node>>>(ReferenceEqualityComparer.Instance);
            foreach (var n in _graph!.Nodes)
            {
                if (n.Op != Op.Fused || n.Attr<FusedAttrs>().Body.Outputs.Length == 1) continue;
                var b = n.Attr<FusedAttrs>().Body;
                if (!byBody.TryGetValue(b, out var byInputs)) byBody[b] = byInputs = new Dictionary<ImmutableArray<Node>, List<Node>>(InputsComparer.Instance);
                if (!byInputs.TryGetValue(n.Inputs, out var list)) byInputs[n.Inputs] = list = [];
                list.Add(n);
                _siblings[n] = list;
            }

            foreach (var list in _siblings.Values.Distinct()) list.Sort((x, y) => x.Attr<FusedAttrs>().Output.CompareTo(y.Attr<FusedAttrs>().Output));
        }

        return _siblings[node];
    }

    /// <summary>Records the value of graph node <paramref name="node"/>, computed by the call of an earlier node.</summary>
    private void ScheduledAhead(Node node, TensorView value)
    {
        _graphValues[node] = value;
        _scheduledAhead.Add(node);
    }

    /// <summary>
    /// The body of a generated elementwise kernel: <paramref name="nodes"/> (in order, restricted to those given) as
    /// body ops, each node for which <paramref name="operand"/> gives a value bound to a kernel input (or inlined when
    /// constant), with <paramref name="result"/> last. A broadcast (only in reduce_broadcast bodies) is its input.
    /// </summary>
    private static (List<BodyOp> Ops, List<TensorView> Inputs) Linearize(IEnumerable<Node> nodes, Node result, Func<Node, TensorView?> operand)
    {
        var (ops, inputs, _) = Linearize(nodes, result, operand, []);
        return (ops, inputs);
    }

    /// <summary>
    /// <see cref="Linearize(IEnumerable{Node}, Node, Func{Node, TensorView?})"/>, and the body op that computes each
    /// of <paramref name="also"/> (nodes among <paramref name="nodes"/>).
    /// </summary>
    private static (List<BodyOp> Ops, List<TensorView> Inputs, int[] AlsoAt) Linearize(IEnumerable<Node> nodes, Node result, Func<Node, TensorView?> operand, IReadOnlyList<Node> also)
    {
        var map = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        var ops = new List<BodyOp>();
        var kernelInputs = new List<TensorView>();
        foreach (var n in nodes)
        {
            if (operand(n) is { } v)
            {
                if (v.IsConstant)
                {
                    ops.Add(new BodyOp(Op.Full, n.DType, [], Constant: v.Constant!.Value));
                }
                else
                {
                    kernelInputs.Add(v);
                    ops.Add(new BodyOp(Op.Input, n.DType, [], Input: kernelInputs.Count - 1));
                }
            }
            else if (n.Op == Op.Full)
            {
                ops.Add(new BodyOp(Op.Full, n.DType, [], Constant: n.Attr<FullAttrs>().Value));
            }
            else if (n.Op == Op.Expand)
            {
                // A broadcast of a row value in a reduce_broadcast body: the value itself, read wherever the row is.
                map[n] = map[n.Inputs[0]];
                continue;
            }
            else
            {
                ops.Add(new BodyOp(n.Op, n.DType, [.. n.Inputs.Select(i => map[i])]));
            }

            map[n] = ops.Count - 1;
        }

        // The result must be the last op.
        if (map[result] != ops.Count - 1) ops.Add(ops[map[result]]);
        return (ops, kernelInputs, [.. also.Select(n => map[n])]);
    }

    // The nodes that accept a deferred cast as it is: views that keep it (see ScheduleView) and matmuls.
    private static bool TakesDeferredCasts(Node node) =>
        node.Op is Op.Permute or Op.Expand or Op.Reshape or Op.MatMul
        || (node.Op == Op.Fused && node.Attr<FusedAttrs>().Kind == FusedKinds.MatMulEpilogue);

    // A float32 cast of a bfloat16 weight is left to the GEMM, which widens the weight as it reads or packs it
    // (no float32 copy of the weight in the plan).
    private TensorView? TryDeferCast(Node node, TensorView[] ins)
    {
        if (node.Op != Op.Cast || node.DType != DType.F32) return null;
        var v = ins[0];
        if (v.IsConstant || v.IsDeferredCast || v.DType != DType.BF16 || _kg.KindOf(v.Slot) != BufferKind.Weight) return null;
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

    private TensorView ScheduleElementwise(Node node, TensorView[] ins)
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
            return EmitElementwise(body, kernelInputs, node.DType, node.Shape, node.Op.Name(), node);
        }

        return FallbackElementwise(node, ins);
    }

    /// <summary>A generated elementwise kernel computing <paramref name="body"/>; for graph node <paramref name="node"/>, possibly in place of a donated input (<see cref="ElementwiseTarget"/>).</summary>
    private TensorView EmitElementwise(List<BodyOp> body, List<TensorView> inputs, DType outDType, Shape outShape, string label, Node? node = null)
    {
        int outSlot = ElementwiseTarget(node, inputs, outDType, outShape);
        _kg.Add(ElementwiseKernel(body, inputs, outDType, outShape, outSlot, label));
        return TensorView.Dense(outSlot, outDType, [.. outShape]);
    }

    /// <summary>The generated kernel computing <paramref name="body"/> into the dense buffer <paramref name="outSlot"/>.</summary>
    private static ElementwiseCall ElementwiseKernel(List<BodyOp> body, List<TensorView> inputs, DType outDType, Shape outShape, int outSlot, string label, bool inPlaceOfGemm = false)
    {
        var (shape, strides) = Collapse([.. outShape], [.. inputs.Select(v => v.Strides)]);
        int rank = shape.Length;
        var specInputs = inputs.Select((v, k) => new ElementwiseInput(v.DType, AccessOf(strides[k][rank - 1]))).ToList();
        var spec = new ElementwiseSpec(specInputs, body, outDType, rank);
        var operands = inputs.Select((v, k) => new KernelOperand(v.Slot, v.Offset, strides[k])).ToList();
        return new ElementwiseCall(spec, outSlot, shape, operands, outShape.Numel, label, inPlaceOfGemm);
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
    internal static (Dim[] Shape, Dim[][] Strides) Collapse(Dim[] shape, Dim[][] strides)
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
        int outSlot = _kg.AddArena(node.DType, shape);
        _kg.Add(new FallbackElementwiseCall(node.Op, outSlot, node.DType, shape, views, node.Shape.Numel, node.Op.Name()));
        return TensorView.Dense(outSlot, node.DType, node.Shape);
    }

    /// <summary>A constant as a one-element buffer viewed with zero strides.</summary>
    private TensorView ScalarBuffer(TensorView c)
    {
        int slot = _kg.AddArena(c.DType, [Dim.One]);
        _kg.Add(new FillCall(slot, c.DType, Dim.One, c.Constant!.Value, "constant"));
        return new TensorView(slot, Dim.Zero, c.Shape, [.. c.Shape.Select(_ => Dim.Zero)], c.DType);
    }

    /// <summary>The value as a dense buffer (offset 0, row-major), copying or filling when needed.</summary>
    private TensorView Dense(TensorView v, string why)
    {
        if (!v.IsConstant && v.IsDense) return v;
        int slot = _kg.AddArena(v.DType, v.Shape);
        var dst = TensorView.Dense(slot, v.DType, v.Shape);
        if (v.IsConstant) Fill(dst, v.Constant!.Value, why);
        else Copy(v, dst, why);
        return dst;
    }

    private void Fill(TensorView dst, double value, string why) => _kg.Add(new FillCall(dst.Slot, dst.DType, dst.Numel, value, $"fill for {why}"));

    /// <summary>Copies a view into another view of the same shape.</summary>
    private void Copy(TensorView src, TensorView dst, string why)
    {
        if (src.IsConstant) src = ScalarBuffer(src);
        _kg.Add(new CopyCall(src, dst, $"copy for {why}"));
    }
}
