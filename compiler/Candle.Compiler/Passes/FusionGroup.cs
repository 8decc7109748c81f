using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Passes;

/// <summary>
/// A set of nodes that <see cref="Fusion"/> turns into one <see cref="Op.Fused"/> node: an output
/// (<see cref="Root"/>), and every member other than the root used only inside the group, so collapsing the group
/// can neither duplicate work nor create a cycle. An elementwise group of float-domain ops may also have members that
/// are graph outputs used otherwise only inside the group (<see cref="Outputs"/>): it then becomes one fused node per
/// output over one body.
/// </summary>
public sealed class FusionGroup
{
    private readonly HashSet<Node> _members = new(ReferenceEqualityComparer.Instance);
    private readonly List<Node> _outputs = [];

    internal FusionGroup(Node root)
    {
        Root = root;
        _members.Add(root);
        _outputs.Add(root);
        if (root.Op.IsReduce())
        {
            Reduce = root;
        }
        else if (root.Op is Op.MatMul or Op.QuantMatMul)
        {
            MatMul = root;
        }
        else if (root.Op == Op.Conv)
        {
            Conv = root;
        }
    }

    /// <summary>The group's output node.</summary>
    public Node Root { get; }

    /// <summary>The values the group computes for nodes outside it: the root, then the members that are graph outputs.</summary>
    public IReadOnlyList<Node> Outputs => _outputs;

    /// <summary>The members (root included).</summary>
    public IReadOnlySet<Node> Members => _members;

    /// <summary>The one reduction of a "reduce" group, or null.</summary>
    public Node? Reduce { get; private set; }

    /// <summary>The one matmul (or quantized product) of a "matmul_epilogue" ("quant_matmul_epilogue") group, or null.</summary>
    public Node? MatMul { get; private set; }

    /// <summary>The one convolution of a "conv_epilogue" group, or null.</summary>
    public Node? Conv { get; private set; }

    /// <summary>
    /// The row shape of a "reduce_broadcast" group (the root's shape with its reduced trailing axes of size 1), or null
    /// for other kinds.
    /// </summary>
    public Shape? RowShape { get; private set; }

    /// <summary>"elementwise", "reduce", "reduce_broadcast", "matmul_epilogue", "quant_matmul_epilogue" or "conv_epilogue".</summary>
    public string Kind =>
        MatMul is not null ? (MatMul.Op == Op.QuantMatMul ? FusedKinds.QuantMatMulEpilogue : FusedKinds.MatMulEpilogue)
        : Conv is not null ? FusedKinds.ConvEpilogue
        : RowShape is not null ? FusedKinds.ReduceBroadcast
        : Reduce is not null ? FusedKinds.Reduce
        : FusedKinds.Elementwise;

    /// <summary>True when <paramref name="node"/> (all of whose users are members) may join under the kind rules.</summary>
    internal bool CanAccept(Node node)
    {
        if (_outputs.Count > 1) return node.Op.IsElementwise() && node.Shape.Equals(Root.Shape) && IsFloatDomain(node);
        if (RowShape is { } row)
        {
            // A reduce_broadcast group takes elementwise ops of the row's or the root's shape, the broadcasts of row
            // values back over the row and the reductions over the group's trailing axes.
            if (node.Op.IsElementwise()) return (node.Shape.Equals(Root.Shape) || node.Shape.Equals(row)) && IsFloatDomain(node);
            if (node.Op == Op.Expand) return node.Shape.Equals(Root.Shape) && node.Inputs[0].Shape.Equals(row);
            return node.Op.IsReduce() && IsRowReduction(node, Root.Shape, row);
        }

        if (Conv is not null) return false;
        if (node.Op == Op.Conv) return IsConvEpilogue(node);
        if (node.Op.IsElementwise())
        {
            if (MatMul is not null) return node.Shape.Equals(MatMul.Shape) && !MatMul.Inputs.Contains(node);
            if (Reduce is not null) return (node.Shape.Equals(Reduce.Shape) || node.Shape.Equals(Reduce.Inputs[0].Shape)) && IsFloatDomain(node);
            return node.Shape.Equals(Root.Shape);
        }

        if (Reduce is not null || MatMul is not null || !node.Shape.Equals(Root.Shape)) return false;
        if (node.Op.IsReduce())
        {
            return IsGeneratedReduction(node) && !node.Shape.Equals(node.Inputs[0].Shape)
                && _members.All(m => m.Op.IsElementwise() && m.Shape.Equals(node.Shape) && IsFloatDomain(m));
        }

        return node.Op is Op.MatMul or Op.QuantMatMul && _members.All(m => m.Op.IsElementwise());
    }

    /// <summary>
    /// True when the members, with <paramref name="conv"/> (a float32 convolution) joining them, are what a convolution's
    /// epilogue computes: relu(conv), conv + r, r + conv or relu(conv + r), r a float32 value of the convolution's shape
    /// computed outside the group.
    /// </summary>
    private bool IsConvEpilogue(Node conv)
    {
        if (conv.DType != DType.F32 || _members.Count > 2 || !Root.Shape.Equals(conv.Shape) || Root.DType != DType.F32) return false;
        var top = Root;
        if (top.Op == Op.Relu)
        {
            if (ReferenceEquals(top.Inputs[0], conv)) return _members.Count == 1;
            top = top.Inputs[0];
            if (!_members.Contains(top)) return false;
        }
        else if (_members.Count != 1)
        {
            return false;
        }

        return top.Op == Op.Add && top.DType == DType.F32
            && (ReferenceEquals(top.Inputs[0], conv) ^ ReferenceEquals(top.Inputs[1], conv))
            && top.Inputs.All(i => i.Shape.Equals(conv.Shape) && i.DType == DType.F32 && !_members.Contains(i));
    }

    /// <summary>
    /// True for the reductions a "reduce" group is formed around: sum, mean, max, min and prod over float dtypes,
    /// which a generated reduction computes with its producers and consumers in one kernel (arg-max, arg-min and
    /// integer reductions stay single library calls, so no group is formed that lowering would take apart).
    /// </summary>
    internal static bool IsGeneratedReduction(Node node) =>
        node.Op is Op.Sum or Op.Mean or Op.Max or Op.Min or Op.Prod
        && node.DType is DType.F32 or DType.F16 or DType.BF16 && node.Inputs[0].DType is DType.F32 or DType.F16 or DType.BF16;

    // Elementwise members of a reduce group compute in the generated kernels' float domain.
    private static bool IsFloatDomain(Node node) =>
        node.DType is DType.F32 or DType.F16 or DType.BF16 or DType.Bool && node.Inputs.All(i => i.DType is DType.F32 or DType.F16 or DType.BF16 or DType.Bool);

    /// <summary>
    /// True when this elementwise group may take <paramref name="expand"/>, a broadcast of a row value back over the
    /// trailing axes of the group's shape, and so become a "reduce_broadcast" group: the value it broadcasts is computed
    /// by elementwise ops of the row shape from at least one reduction over those axes that, like the value itself, is
    /// used only by the group, the broadcast or such nodes of the chain (so each of them joins when fusion reaches it).
    /// </summary>
    internal bool CanAcceptBroadcast(Node expand, IReadOnlyDictionary<Node, IReadOnlyList<Node>> users, IReadOnlySet<Node> outputs)
    {
        if (_outputs.Count > 1) return false;
        if (RowShape is not null) return CanAccept(expand);
        if (Reduce is not null || MatMul is not null || Conv is not null || !expand.Shape.Equals(Root.Shape)) return false;
        if (!_members.All(m => m.Op.IsElementwise() && IsFloatDomain(m))) return false;
        var row = expand.Inputs[0].Shape;
        if (row.Rank != Root.Shape.Rank) return false;

        // The chain from the broadcast value up to its reductions.
        var chain = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Node>([expand.Inputs[0]]);
        bool reduces = false;
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (chain.Contains(n)) continue;
            if (n.Op.IsReduce())
            {
                if (!IsRowReduction(n, Root.Shape, row)) return false;
                reduces = true;
            }
            else if (n.Op.IsElementwise() && n.Shape.Equals(row) && IsFloatDomain(n))
            {
                foreach (var i in n.Inputs) stack.Push(i);
            }
            else
            {
                continue;
            }

            chain.Add(n);
        }

        // Keep the nodes that will join: not outputs, every user a member, the broadcast or a kept node (to a fixed
        // point; a node left out is read by the group as a row input). The broadcast value and one reduction must stay.
        bool changed = reduces;
        while (changed)
        {
            changed = chain.RemoveWhere(n => outputs.Contains(n)
                || !users[n].All(u => ReferenceEquals(u, expand) || _members.Contains(u) || chain.Contains(u))) > 0;
        }

        return chain.Contains(expand.Inputs[0]) && chain.Any(n => n.Op.IsReduce());
    }

    /// <summary>
    /// True for a generated reduction of a value of <paramref name="full"/> shape into <paramref name="row"/> (kept
    /// dims) over trailing axes only: the reductions of a "reduce_broadcast" group.
    /// </summary>
    internal static bool IsRowReduction(Node node, Shape full, Shape row)
    {
        if (!IsGeneratedReduction(node) || !node.Shape.Equals(row) || !node.Inputs[0].Shape.Equals(full)) return false;
        var a = node.Attr<ReduceAttrs>();
        if (!a.KeepDim || a.Axes.Count == 0) return false;
        var axes = a.Axes.Order().ToArray();
        int rank = full.Rank;
        for (int i = 0; i < axes.Length; i++)
        {
            if (axes[i] != rank - axes.Length + i) return false;
        }

        return true;
    }

    /// <summary>
    /// True when <paramref name="node"/>, a graph output all of whose users are members, may join as a further output:
    /// the group and the node are float-domain elementwise ops of one shape (one generated loop writing each output).
    /// </summary>
    internal bool CanAcceptOutput(Node node) =>
        Kind == FusedKinds.Elementwise && node.Op.IsElementwise() && node.Shape.Equals(Root.Shape) && IsFloatDomain(node)
        && _members.All(m => m.Op.IsElementwise() && IsFloatDomain(m));

    /// <summary>Adds <paramref name="node"/> (accepted by <see cref="CanAcceptOutput"/>) as a member and a further output.</summary>
    internal void AddOutput(Node node)
    {
        Add(node);
        _outputs.Add(node);
    }

    internal void Add(Node node)
    {
        if (node.Op == Op.Expand && RowShape is null) RowShape = node.Inputs[0].Shape;
        _members.Add(node);
        if (node.Op.IsReduce()) Reduce = node;
        if (node.Op is Op.MatMul or Op.QuantMatMul) MatMul = node;
        if (node.Op == Op.Conv) Conv = node;
    }
}
