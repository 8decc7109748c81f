using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

internal sealed partial class Scheduler
{
    /// <summary>
    /// A quantized constant: read by the quantized product and lookup as stored (they bind its blocks themselves, so its
    /// value here is a byte view of them); read by any other op (or returned), it becomes its float32 dequantization.
    /// </summary>
    private TensorView ScheduleQuantConstant(Node node)
    {
        var q = node.Attr<QuantConstantAttrs>().Data;
        if (_plainQuantUses.Contains(node))
        {
            return TensorView.Dense(_kg.AddWeight(q.Dequantize(), q.Name), node.DType, node.Shape);
        }

        return TensorView.Dense(_kg.AddWeight(q.Storage, q.Name), DType.U8, Shape.Of(q.Storage.Shape[0]));
    }

    private TensorView ScheduleQuantMatMul(Node node, TensorView[] ins)
    {
        var q = node.Inputs[1].Attr<QuantConstantAttrs>().Data;
        var x = Dense(ins[0], "quant_matmul");
        int w = _kg.AddWeight(q.Storage, q.Name);
        var y = NewOutput(node);
        _kg.Add(new QuantMatMulCall(x, w, y.Slot, q.Type, Prod(x.Shape.Take(x.Rank - 1)), q.Rows, q.Cols, $"quant_matmul {q.Name}"));
        return y;
    }

    private TensorView ScheduleQuantEmbedding(Node node, TensorView[] ins)
    {
        var q = node.Inputs[0].Attr<QuantConstantAttrs>().Data;
        var ids = Dense(ins[1], "quant_embedding");
        int w = _kg.AddWeight(q.Storage, q.Name);
        var y = NewOutput(node);
        _kg.Add(new QuantEmbeddingCall(w, ids, y.Slot, q.Type, q.Rows, q.Cols, $"quant_embedding {q.Name}"));
        return y;
    }

    /// <summary>Records the quantized constants that some op other than a quantized product or lookup reads (or that are outputs).</summary>
    private void FindPlainQuantUses(Graph graph)
    {
        foreach (var n in graph.Nodes)
        {
            for (int i = 0; i < n.Inputs.Length; i++)
            {
                var input = n.Inputs[i];
                if (input.Op != Op.QuantConstant) continue;
                bool quantized = (n.Op == Op.QuantMatMul && i == 1) || (n.Op == Op.QuantEmbedding && i == 0);
                if (!quantized) _plainQuantUses.Add(input);
            }
        }

        foreach (var o in graph.Outputs)
        {
            if (o.Op == Op.QuantConstant) _plainQuantUses.Add(o);
        }
    }
}
