using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

internal sealed partial class Scheduler
{
    /// <summary>
    /// Lowers a <see cref="FusedKinds.ConvEpilogue"/> group — relu(conv), conv + r, r + conv or relu(conv + r), all
    /// float32 — to one <see cref="ConvCall"/> that adds the residual r (dense) after the bias and applies the ReLU to
    /// each finished tile. Returns null for any other body (the caller lowers it node by node).
    /// </summary>
    private TensorView? TryScheduleConvEpilogue(Node node, TensorView[] ins)
    {
        var body = node.Attr<FusedAttrs>().Body;
        var result = body.Outputs[0];
        var conv = body.Nodes.FirstOrDefault(n => n.Op == Op.Conv);
        if (conv is null || conv.DType != DType.F32 || node.DType != DType.F32 || conv.Inputs.Any(i => i.Op != Op.Input)) return null;
        bool relu = result.Op == Op.Relu;
        var top = relu ? result.Inputs[0] : result;
        Node? residual = null;
        if (!ReferenceEquals(top, conv))
        {
            if (top.Op != Op.Add || top.Inputs.Count(i => ReferenceEquals(i, conv)) != 1) return null;
            residual = top.Inputs.First(i => !ReferenceEquals(i, conv));
            if (residual.Op != Op.Input || !residual.Shape.Equals(conv.Shape) || residual.DType != DType.F32) return null;
        }

        if (body.Nodes.Count(n => n.Op is not Op.Input) != 1 + (relu ? 1 : 0) + (residual is null ? 0 : 1)) return null;
        if (!relu && residual is null) return null;

        TensorView Operand(Node input) => ins[body.Inputs.IndexOf(input)];
        string label = $"conv + {(residual is null ? "" : "add")}{(residual is not null && relu ? " + " : "")}{(relu ? "relu" : "")}";
        var a = ConvAttrsOf(conv, node.Inputs[body.Inputs.IndexOf(conv.Inputs[0])]);
        var x = Dense(Operand(conv.Inputs[0]), label);
        var w = Dense(Operand(conv.Inputs[1]), label);
        int bias = a.HasBias ? Dense(Operand(conv.Inputs[2]), label).Slot : -1;
        int r = residual is null ? -1 : Dense(Operand(residual), label).Slot;
        var y = NewOutput(node);
        _kg.Add(new ConvCall(Op.Conv, x, w, bias, y.Slot, DType.F32, [.. node.Shape], a, label, r, relu));
        return y;
    }
}
