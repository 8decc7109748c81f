using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Passes;

/// <summary>
/// A set of nodes that <see cref="Fusion"/> turns into one <see cref="Op.Fused"/> node: a single output
/// (<see cref="Root"/>), and every member other than the root used only inside the group, so collapsing the group
/// can neither duplicate work nor create a cycle.
/// </summary>
public sealed class FusionGroup
{
    private readonly HashSet<Node> _members = new(ReferenceEqualityComparer.Instance);

    internal FusionGroup(Node root)
    {
        Root = root;
        _members.Add(root);
        if (root.Op.IsReduce())
        {
            Reduce = root;
        }
        else if (root.Op == Op.MatMul)
        {
            MatMul = root;
        }
    }

    /// <summary>The group's output node.</summary>
    public Node Root { get; }

    /// <summary>The members (root included).</summary>
    public IReadOnlySet<Node> Members => _members;

    /// <summary>The one reduction of a "reduce" group, or null.</summary>
    public Node? Reduce { get; private set; }

    /// <summary>The one matmul of a "matmul_epilogue" group, or null.</summary>
    public Node? MatMul { get; private set; }

    /// <summary>"elementwise", "reduce" or "matmul_epilogue".</summary>
    public string Kind => MatMul is not null ? FusedKinds.MatMulEpilogue : Reduce is not null ? FusedKinds.Reduce : FusedKinds.Elementwise;

    /// <summary>True when <paramref name="node"/> (all of whose users are members) may join under the kind rules.</summary>
    internal bool CanAccept(Node node)
    {
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

        return node.Op == Op.MatMul && _members.All(m => m.Op.IsElementwise());
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

    internal void Add(Node node)
    {
        _members.Add(node);
        if (node.Op.IsReduce()) Reduce = node;
        if (node.Op == Op.MatMul) MatMul = node;
    }
}
