using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// TreeEnsemble (ai.onnx.ml opset 5) with post_transform NONE, composed from the trees known at import: walking each
/// tree from its root, every interior node's comparison (≤, &lt;, ≥, &gt;, =, ≠ against its split, or membership in
/// its set; a NaN feature takes the true branch where nodes_missing_value_tracks_true says so) narrows the rows that
/// reach each branch, and every leaf adds its weight to its target for the rows that reach it (SUM, AVERAGE over the
/// trees) or bounds it (MIN, MAX, starting from the type's largest or lowest finite value as ONNX's reference does).
/// Set members are read from membership_values in the order the BRANCH_MEMBER nodes appear, each set ended by a NaN.
/// </summary>
internal static class TreeEnsembleOps
{
    private const int Member = 6;

    public static void Register(Dictionary<string, OpImporter> t) => t["ai.onnx.ml:TreeEnsemble"] = TreeEnsemble;

    private static OnnxValue[] TreeEnsemble(NodeImport n)
    {
        var x = n.Input(0);
        if (x.Shape.Rank != 2 || !x.DType.IsFloat()) throw n.Import($"needs a 2-D floating-point X [N, F], got {x.DType.TorchName()} {x.Shape}");
        if (x.Shape[1].TryGetConstant() is not long features) throw n.Import($"needs a constant feature count, got X {x.Shape}");
        long post = n.Attrs.Int("post_transform", 0);
        if (post != 0) throw n.Import($"post_transform {post} is not supported (only NONE, 0)");
        long aggregate = n.Attrs.Int("aggregate_function", 1);
        if (aggregate is < 0 or > 3) throw n.Import($"aggregate_function {aggregate} is not AVERAGE (0), SUM (1), MIN (2) or MAX (3)");

        long[] Ints(string name) => n.Attrs.Ints(name) ?? throw n.Import($"needs attribute '{name}'");
        HostTensor Tensor(string name) => n.Attrs.Tensor(name) ?? throw n.Import($"needs attribute '{name}'");
        long[] featureIds = Ints("nodes_featureids"), trueIds = Ints("nodes_truenodeids"), falseIds = Ints("nodes_falsenodeids");
        long[] trueLeafs = Ints("nodes_trueleafs"), falseLeafs = Ints("nodes_falseleafs"), leafTargets = Ints("leaf_targetids"), roots = Ints("tree_roots");
        var modes = Tensor("nodes_modes");
        var splits = Tensor("nodes_splits");
        var weights = Tensor("leaf_weights");
        long[] missing = n.Attrs.Ints("nodes_missing_value_tracks_true") ?? new long[featureIds.Length];
        int count = featureIds.Length;
        if (new[] { trueIds.Length, falseIds.Length, trueLeafs.Length, falseLeafs.Length, missing.Length }.Any(l => l != count) || modes.ElementCount != count || splits.ElementCount != count)
            throw n.Format($"the nodes_* attributes differ in length (nodes_featureids has {count})");
        if (weights.ElementCount != leafTargets.Length) throw n.Format($"leaf_weights has {weights.ElementCount} entries and leaf_targetids {leafTargets.Length}");
        long targets = n.Attrs.Int("n_targets", leafTargets.Length == 0 ? 0 : leafTargets.Max() + 1);
        if (targets < 1 || targets > 1 << 20 || leafTargets.Any(t => t < 0 || t >= targets)) throw n.Format($"leaf_targetids must lie in [0, n_targets = {targets})");
        if (roots.Length == 0 || roots.Any(r => r < 0 || r >= count)) throw n.Format($"tree_roots must index the {count} nodes");

        // The member sets of the BRANCH_MEMBER nodes, in the order they appear.
        var sets = new Dictionary<int, List<double>>();
        var members = n.Attrs.Tensor("membership_values");
        long cursor = 0;
        for (int i = 0; i < count; i++)
        {
            long mode = (long)modes.GetDouble(i);
            if (mode is < 0 or > Member) throw n.Format($"nodes_modes[{i}] = {mode} is not a mode (0 to 6)");
            if (featureIds[i] < 0 || featureIds[i] >= features) throw n.Format($"nodes_featureids[{i}] = {featureIds[i]} is outside the {features} features");
            if (mode != Member) continue;
            if (members is null) throw n.Format("a BRANCH_MEMBER node needs membership_values");
            var set = new List<double>();
            while (cursor < members.ElementCount && !double.IsNaN(members.GetDouble(cursor))) set.Add(members.GetDouble(cursor++));
            if (cursor++ >= members.ElementCount) throw n.Format($"membership_values ends before the set of node {i} (each set ends with a NaN)");
            sets[i] = set;
        }

        var dtype = x.DType == DType.F64 ? DType.F64 : DType.F32;
        var wide = Cast(x, DType.F64);
        var columns = new Dictionary<long, Node>();
        Node Column(long f) => columns.TryGetValue(f, out var c) ? c : columns[f] = Select(wide, 1, f);
        double start = aggregate switch
        {
            2 => x.DType switch { DType.F64 => double.MaxValue, DType.F16 => (double)Half.MaxValue, _ => float.MaxValue },
            3 => x.DType switch { DType.F64 => double.MinValue, DType.F16 => (double)Half.MinValue, _ => float.MinValue },
            _ => 0,
        };
        var sums = new Node?[targets];
        Node Fill(double v) => Scalar(v, DType.F64);

        // Depth-first over each tree; the budget bounds the walk (a DAG of shared nodes is expanded per path).
        foreach (long root in roots)
        {
            bool rootIsLeaf = trueLeafs[root] != 0 && falseLeafs[root] != 0 && trueIds[root] == falseIds[root];
            var stack = new Stack<(long Index, bool Leaf, Node? Reach, int Depth)>();
            stack.Push((rootIsLeaf ? trueIds[root] : root, rootIsLeaf, null, 0));
            while (stack.Count > 0)
            {
                var (index, leaf, reach, depth) = stack.Pop();
                n.Expand(8, 0, "walking the trees");
                if (leaf)
                {
                    if (index < 0 || index >= leafTargets.Length) throw n.Format($"leaf index {index} is outside the {leafTargets.Length} leaves");
                    long target = leafTargets[index];
                    double weight = weights.GetDouble(index);
                    var reached = reach ?? Full(1, DType.Bool, new Shape(x.Shape[0]));
                    var value = Where(reached, Fill(weight), Fill(aggregate is 2 or 3 ? start : 0));
                    var previous = sums[target];
                    sums[target] = previous is null ? value : Binary(aggregate switch { 2 => Op.Minimum, 3 => Op.Maximum, _ => Op.Add }, previous, value);
                    continue;
                }

                if (index < 0 || index >= count) throw n.Format($"node index {index} is outside the {count} nodes");
                if (depth > count) throw n.Format($"the tree from root {root} has a cycle");
                var feature = Column(featureIds[index]);
                var cond = Condition(feature, (long)modes.GetDouble(index), splits.GetDouble(index), sets.GetValueOrDefault((int)index));
                if (missing[index] != 0) cond = Binary(Op.LogicalOr, cond, Binary(Op.Ne, feature, feature));
                Node yes = reach is null ? cond : Binary(Op.LogicalAnd, reach, cond);
                Node no = reach is null ? Unary(Op.LogicalNot, cond) : Binary(Op.LogicalAnd, reach, Unary(Op.LogicalNot, cond));
                stack.Push((falseIds[index], falseLeafs[index] != 0, no, depth + 1));
                stack.Push((trueIds[index], trueLeafs[index] != 0, yes, depth + 1));
            }
        }

        var rows = new Shape(x.Shape[0]);
        // A target no leaf contributes to keeps the starting value.
        var y = Stack(sums.Select(s => s ?? Full(start, DType.F64, rows)), 1);
        if (aggregate == 0) y = Binary(Op.Div, y, Fill(roots.Length));
        return NodeImport.One(Cast(Cast(y, dtype), x.DType));
    }

    private static Node Condition(Node feature, long mode, double split, List<double>? set)
    {
        var s = Scalar(split, DType.F64);
        return mode switch
        {
            0 => Binary(Op.Le, feature, s),
            1 => Binary(Op.Lt, feature, s),
            2 => Binary(Op.Ge, feature, s),
            3 => Binary(Op.Gt, feature, s),
            4 => Binary(Op.Eq, feature, s),
            5 => Binary(Op.Ne, feature, s),
            _ => set!.Count == 0 ? Full(0, DType.Bool, feature.Shape) : set.Select(v => Binary(Op.Eq, feature, Scalar(v, DType.F64))).Aggregate((a, b) => Binary(Op.LogicalOr, a, b)),
        };
    }
}
