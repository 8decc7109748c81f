using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

internal sealed partial class Scheduler
{
    /// <summary>
    /// An add of two same-shaped float values of its dtype that an rms_norm reads (a decoder's residual stream before
    /// its next norm) as one <see cref="NormCall"/> with a residual: it writes the sum (the add's value) and the
    /// normalized sum (the norm's value, scheduled ahead of its turn: it reads nothing else but its weight). Null where
    /// that does not apply or the scheduler was not asked for it.
    /// </summary>
    private TensorView? TryResidualNorm(Node node, TensorView[] ins, Dictionary<Node, TensorView> values)
    {
        if (!_residualNorms || node.Op != Op.Add || !node.DType.IsFloat() || ins.Length != 2) return null;
        if (node.Inputs.Any(i => i.DType != node.DType || !i.Shape.Equals(node.Shape)) || ins.Any(v => v.IsConstant || v.IsDeferredCast)) return null;
        if (_graph is null || !_graph.Users.TryGetValue(node, out var users)) return null;
        var norm = users.FirstOrDefault(u => u.Op == Op.RmsNorm && ReferenceEquals(u.Inputs[0], node) && u.DType == node.DType
            && !values.ContainsKey(u) && !_graphOutputs.Contains(u) && !_outputViews.ContainsKey(u)
            && u.Inputs.Skip(1).All(i => values.ContainsKey(i) || i.Op == Op.Constant));
        if (norm is null || node.Shape.Rank == 0) return null;
        foreach (var c in norm.Inputs.Skip(1).Where(i => !values.ContainsKey(i))) values[c] = ScheduleNode(c, []);

        const string label = "add + rms_norm";
        var a = norm.Attr<NormAttrs>();
        var x = Dense(ins[0], label);
        var r = Dense(ins[1], label);
        int w = a.HasWeight ? Dense(values[norm.Inputs[1]], label).Slot : -1;
        var sum = NewOutput(node);
        var y = NewOutput(norm);
        var rows = Prod(node.Shape.Take(node.Shape.Rank - 1));
        _kg.Add(new NormCall(Op.RmsNorm, x.Slot, w, -1, y.Slot, node.DType, rows, node.Shape[^1], a.Eps, label) { Residual = r.Slot, Sum = sum.Slot });
        values[norm] = y;
        _scheduledAhead.Add(norm);
        return sum;
    }
}
