using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
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

    /// <summary>
    /// Lowers a <see cref="FusedKinds.QuantMatMulEpilogue"/> group whose elementwise tail the kernel generator handles:
    /// the tail becomes the product's epilogue (<see cref="QuantMatMulCall.Epilogue"/>), run by the kernel on each
    /// finished tile (prefill) or range of a row (decode) from its own scratch, so the product's values never take a
    /// buffer of the plan. The result is written over one of the tail's operands where that operand dies there (the
    /// arena rule of <see cref="ElementwiseTarget"/>: a gated MLP's gate, a residual stream), never over the product's
    /// own input x. Returns null for groups it does not take (the caller lowers those node by node).
    /// </summary>
    private TensorView? TryScheduleQuantMatMulEpilogue(Node node, TensorView[] ins)
    {
        var body = node.Attr<FusedAttrs>().Body;
        var result = body.Outputs[0];
        var products = body.Nodes.Where(n => n.Op == Op.QuantMatMul).ToList();
        if (products.Count != 1 || node.DType != DType.F32) return null;
        var mm = products[0];
        if (ReferenceEquals(result, mm) || mm.Inputs[0].Op != Op.Input || mm.Inputs[1].Op != Op.QuantConstant) return null;

        if (EpilogueTail(result, mm) is not { } needed) return null;

        var q = mm.Inputs[1].Attr<QuantConstantAttrs>().Data;
        var x = Dense(ins[body.Inputs.IndexOf(mm.Inputs[0])], "quant_matmul");
        int w = _kg.AddWeight(q.Storage, q.Name);

        // The product's values are read by the epilogue through a placeholder slot the kernel points at its scratch.
        int product = _kg.AddArena(DType.F32, [Dim.One]);
        var (ops, operands) = Linearize(
            body.Nodes.Where(needed.Contains),
            result,
            n => ReferenceEquals(n, mm) ? TensorView.Dense(product, DType.F32, mm.Shape)
                : n.Op == Op.Input ? (ins[body.Inputs.IndexOf(n)] is { IsDeferredCast: true } v ? MaterializeCast(v) : ins[body.Inputs.IndexOf(n)])
                : null);

        // The output may take the place of a tail operand that dies here, but not of x, which the product reads throughout.
        var candidates = operands.Where(v => v.Slot != product && v.Slot != x.Slot).ToList();
        int y = candidates.Count == operands.Count(v => v.Slot != product)
            ? ElementwiseTarget(node, candidates, DType.F32, node.Shape)
            : _kg.AddArena(DType.F32, [.. node.Shape]);
        var epilogue = ElementwiseKernel(ops, operands, DType.F32, node.Shape, y, "quant_matmul epilogue");
        _kg.Add(new QuantMatMulCall(x, w, y, q.Type, Prod(x.Shape.Take(x.Rank - 1)), q.Rows, q.Cols, $"quant_matmul {q.Name} + epilogue", epilogue, product));
        return TensorView.Dense(y, DType.F32, node.Shape);
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
