using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// CausalConvWithState (opset 27): a causal depthwise 1-d convolution over [B, C, L] with weight [C, 1, k], composed
/// as the sum over the k kernel taps of a shifted slice of the sequence past_state (zeros without one, [B, C, k − 1])
/// ++ input times the tap's per-channel weight, in float32; plus the bias, then SiLU when activation is 'silu' or
/// 'swish'. present_state is the last k − 1 positions of past_state ++ input.
/// </summary>
internal static class CausalConvOps
{
    public static void Register(Dictionary<string, OpImporter> t) => t["CausalConvWithState"] = CausalConvWithState;

    private static OnnxValue[] CausalConvWithState(NodeImport n)
    {
        string activation = n.Attrs.String("activation", "none");
        if (activation is not ("none" or "silu" or "swish")) throw n.Import($"activation '{activation}' is not one of none, silu, swish");
        Node x = n.Input(0), w = n.Input(1);
        if (x.Shape.Rank != 3) throw n.Import($"needs a 3-D input (batch, channels, length), got {x.Shape}");
        if (!x.DType.IsFloat()) throw n.Import($"needs a floating-point input, got {x.DType.TorchName()}");
        if (w.Shape.Rank != 3 || w.Shape[0] != x.Shape[1] || w.Shape[1] != Dim.One || w.Shape[2].TryGetConstant() is not long k || k < 1)
            throw n.Import($"needs a weight [channels, 1, k] with a constant k ≥ 1 for input {x.Shape}, got {w.Shape}");
        if (x.Shape[2].TryGetConstant() is not long length) throw n.Import($"needs a constant length, got input {x.Shape}");
        n.Expand(3 * k, 0, $"{k} kernel taps");
        Dim batch = x.Shape[0], channels = x.Shape[1];
        var stateShape = new Shape(batch, channels, Dim.Of(k - 1));
        Node padded = x;
        if (k > 1)
        {
            Node pad;
            if (n.OptionalInput(3) is { } past)
            {
                if (past.Shape.Rank != 3 || past.Shape[0] != batch || past.Shape[1] != channels || past.Shape[2] != Dim.Of(k - 1)) throw n.Import($"past_state {past.Shape} is not {stateShape}");
                pad = Cast(past, x.DType);
            }
            else
            {
                pad = Full(0, x.DType, stateShape);
            }

            padded = Concat([pad, x], 2);
        }

        var wide = Cast(padded, DType.F32);
        var taps = Cast(Reshape(w, new Shape(channels, Dim.Of(k))), DType.F32);
        Node? sum = null;
        for (long j = 0; j < k; j++)
        {
            var term = Binary(Op.Mul, SliceAxis(wide, 2, j, j + length), Reshape(SliceAxis(taps, 1, j, j + 1), new Shape(Dim.One, channels, Dim.One)));
            sum = sum is null ? term : Binary(Op.Add, sum, term);
        }

        if (n.OptionalInput(2) is { } bias)
        {
            if (bias.Shape.Rank != 1 || bias.Shape[0] != channels) throw n.Import($"bias {bias.Shape} is not [{channels}]");
            sum = Binary(Op.Add, sum!, Reshape(Cast(bias, DType.F32), new Shape(Dim.One, channels, Dim.One)));
        }

        // The convolution rounds to the input's type before the activation.
        var y = Cast(sum!, x.DType);
        if (activation != "none") y = Cast(Unary(Op.Silu, Cast(y, DType.F32)), x.DType);
        var present = k > 1 ? SliceAxis(padded, 2, length, length + k - 1) : Full(0, x.DType, stateShape);
        return [new OnnxValue(y), new OnnxValue(present)];
    }
}
