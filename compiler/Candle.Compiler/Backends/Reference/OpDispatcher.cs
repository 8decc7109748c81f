using Candle.Compiler.Ir;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>Routes a node to the evaluator of its op family.</summary>
internal static class OpDispatcher
{
    public static HostTensor Evaluate(OpCall call)
    {
        var op = call.Op;
        return op switch
        {
            Op.Input => throw new InvalidOperationException($"input {call.Node} has no value"),
            _ when op.IsLeaf() => LeafEvaluator.Evaluate(call),
            _ when op.IsUnary() => UnaryEvaluator.Evaluate(call),
            _ when op.IsBinary() || op == Op.Where => BinaryEvaluator.Evaluate(call),
            _ when op.IsReduce() || op == Op.CumSum => ReduceEvaluator.Evaluate(call),
            Op.MatMul => MatMulEvaluator.Evaluate(call),
            Op.QuantMatMul or Op.QuantEmbedding => QuantEvaluator.Evaluate(call),
            Op.IndexSelect or Op.Gather or Op.ScatterAdd => IndexingEvaluator.Evaluate(call),
            _ when op.IsMovement() || op == Op.UpsampleNearest => MovementEvaluator.Evaluate(call),
            Op.Softmax or Op.LogSoftmax or Op.LayerNorm or Op.RmsNorm or Op.GroupNorm => NormalizationEvaluator.Evaluate(call),
            Op.Conv or Op.ConvTranspose => ConvolutionEvaluator.Evaluate(call),
            Op.MaxPool or Op.AvgPool => PoolingEvaluator.Evaluate(call),
            Op.Rope => RopeEvaluator.Evaluate(call),
            Op.Attention => AttentionEvaluator.Evaluate(call),
            Op.RandomUniform => RandomEvaluator.Evaluate(call),
            Op.Fused => Fused(call),
            _ => throw new NotSupportedException($"{call.Describe()}: the reference interpreter has no evaluator for {op.Name()}"),
        };
    }

    private static HostTensor Fused(OpCall call)
    {
        var a = call.Attr<FusedAttrs>();
        return ReferenceInterpreter.Run(a.Body, call.Inputs, call.Bindings)[a.Output];
    }
}
