using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

internal sealed partial class Scheduler
{
    /// <summary>
    /// Attention: float32 runs the flash kernel over strided q, k, v (unit stride along the head dim; other layouts
    /// are copied) and a strided mask (broadcast masks stay broadcast); other dtypes run the double kernel over
    /// dense operands, unless the scheduler takes strided operands (every dtype as float32).
    /// </summary>
    private TensorView ScheduleAttention(Node node, TensorView[] ins)
    {
        const string label = "attention";
        var a = node.Attr<AttentionAttrs>();
        if (node.DType != DType.F32 && !_stridedOperands)
        {
            var qd = Dense(ins[0], label);
            var kd = Dense(ins[1], label);
            var vd = Dense(ins[2], label);
            var md = a.HasMask ? Dense(ins[3], label) : null;
            var yd = NewOutput(node);
            _kg.Add(new AttentionCall(qd, kd, vd, md, yd.Slot, node.DType, a.Scale, a.Causal, label));
            return yd;
        }

        TensorView RowMajorLast(TensorView t) => t.IsConstant || t.Strides[3] != Dim.One ? Dense(t, label) : t;
        var q = RowMajorLast(ins[0]);
        var k = RowMajorLast(ins[1]);
        var v = RowMajorLast(ins[2]);
        TensorView? m = null;
        if (a.HasMask) m = ins[3].IsConstant ? ScalarBuffer(ins[3]) : ins[3];
        var y = NewOutput(node);
        _kg.Add(new AttentionCall(q, k, v, m, y.Slot, node.DType, a.Scale, a.Causal, label));
        return y;
    }
}
