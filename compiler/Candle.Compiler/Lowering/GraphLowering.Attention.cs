using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Lowering;

internal sealed partial class GraphLowering
{
    /// <summary>Queries per work item of the flash attention kernel.</summary>
    private const int AttentionQueryBlock = 16;

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

    /// <summary>
    /// Attention: float32 runs the flash kernel over strided q, k, v (unit stride along the head dim; other layouts
    /// are copied) and a strided mask (broadcast masks stay broadcast); other dtypes run the double kernel over
    /// dense operands.
    /// </summary>
    private TensorView LowerAttention(Node node, TensorView[] ins)
    {
        const string label = "attention";
        var a = node.Attr<AttentionAttrs>();
        if (node.DType != DType.F32)
        {
            var qd = Dense(ins[0], label);
            var kd = Dense(ins[1], label);
            var vd = Dense(ins[2], label);
            var md = a.HasMask ? Dense(ins[3], label) : null;
            var yd = NewOutput(node);
            var dargs = new List<Dim>
            {
                qd.Slot, kd.Slot, vd.Slot, md?.Slot ?? -1, yd.Slot, (int)node.DType, (int)(md?.DType ?? DType.Bool),
                qd.Shape[0], qd.Shape[1], kd.Shape[1], qd.Shape[2], kd.Shape[2], qd.Shape[3], vd.Shape[3], Bits(a.Scale), a.Causal ? 1 : 0,
            };
            _pb.AddStep("rt:attention", dargs, qd.Shape[0] * qd.Shape[1] * qd.Shape[2], kd.Shape[2] * (qd.Shape[3] + vd.Shape[3]), label, qd.Slot, kd.Slot, vd.Slot, md?.Slot ?? -1, yd.Slot);
            return yd;
        }

        TensorView RowMajorLast(TensorView t) => t.IsConstant || t.Strides[3] != Dim.One ? Dense(t, label) : t;
        var q = RowMajorLast(ins[0]);
        var k = RowMajorLast(ins[1]);
        var v = RowMajorLast(ins[2]);
        TensorView? m = null;
        if (a.HasMask) m = ins[3].IsConstant ? ScalarBuffer(ins[3]) : ins[3];
        var y = NewOutput(node);
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
        args.AddRange([y.Slot, q.Shape[0], q.Shape[1], k.Shape[1], sq, sk, q.Shape[3], v.Shape[3], Bits(a.Scale), a.Causal ? 1 : 0, AttentionQueryBlock, RowVectorBits]);
        var items = q.Shape[0] * q.Shape[1] * ((sq + (AttentionQueryBlock - 1)) / AttentionQueryBlock);
        var cost = Dim.Of(AttentionQueryBlock) * (sk + 1) * (q.Shape[3] + v.Shape[3]);
        _pb.AddStep("rt:flash_attention", args, items, cost, label, q.Slot, k.Slot, v.Slot, m?.Slot ?? -1, y.Slot);
        return y;
    }
}
