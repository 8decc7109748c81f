using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (log-softmax over the class axis, then the same loss):
/// the input at each target class, negated, weighted per class, with ignore_index dropping targets, reduced as none,
/// sum or mean (the weighted mean divides by the total weight of the targets kept).
/// </summary>
internal static class LossOps
{
    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["NegativeLogLikelihoodLoss"] = n => NodeImport.One(Nll(n, n.Input(0)));
        t["SoftmaxCrossEntropyLoss"] = n =>
        {
            var scores = n.Input(0);
            if (scores.Shape.Rank < 2) throw n.Import($"needs scores [N, C, ...], got {scores.Shape}");
            var logProb = LogSoftmax(scores, 1);
            var loss = Nll(n, logProb);
            return n.OutputCount > 1 ? [new OnnxValue(loss), new OnnxValue(logProb)] : NodeImport.One(loss);
        };
    }

    private static Node Nll(NodeImport n, Node input)
    {
        if (input.Shape.Rank < 2) throw n.Import($"needs input [N, C, ...], got {input.Shape}");
        string reduction = n.Attrs.String("reduction", "mean");
        if (reduction is not ("none" or "sum" or "mean")) throw n.Import($"reduction '{reduction}' is not supported");
        var target = Cast(n.Input(1), DType.I64);
        if (target.Shape.Rank != input.Shape.Rank - 1) throw n.Import($"target {target.Shape} must have one dimension fewer than input {input.Shape}");
        Node? keep = null;
        if (n.Attrs.Has("ignore_index"))
        {
            keep = Binary(Op.Ne, target, Scalar(n.Attrs.Int("ignore_index"), DType.I64));
            target = Where(keep, target, Scalar(0, DType.I64));
        }

        var picked = Reshape(Gather(input, 1, Unsqueeze(target, 1)), target.Shape);
        var loss = Unary(Op.Neg, picked);
        Node? weight = n.OptionalInput(2) is { } w ? IndexSelect(Cast(w, input.DType), 0, target) : null;
        if (keep is not null) weight = Where(keep, weight ?? Full(1, input.DType, target.Shape), Scalar(0, input.DType));
        if (weight is not null) loss = Binary(Op.Mul, loss, weight);
        return reduction switch
        {
            "none" => loss,
            "sum" => IrBuilder.Reduce(Op.Sum, loss),
            _ when weight is null => IrBuilder.Reduce(Op.Mean, loss),
            _ => Binary(Op.Div, IrBuilder.Reduce(Op.Sum, loss), IrBuilder.Reduce(Op.Sum, weight)),
        };
    }
}
