using Candle.Compiler.Ir;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>Leaves without inputs: constants, filled tensors and ranges.</summary>
internal static class LeafEvaluator
{
    public static HostTensor Evaluate(OpCall call) => call.Op switch
    {
        Op.Constant => Constant(call),
        Op.QuantConstant => call.Attr<QuantConstantAttrs>().Data.Dequantize(),
        Op.Full => call.Result(Enumerable.Repeat(call.Attr<FullAttrs>().Value, call.OutCount).ToArray()),
        Op.Arange => Arange(call),
        _ => throw new InvalidOperationException($"{call.Op.Name()} is not a leaf"),
    };

    private static HostTensor Constant(OpCall call)
    {
        var data = call.Attr<ConstantAttrs>().Data;
        if (data.DType != call.DType || !data.Shape.SequenceEqual(call.OutShape))
        {
            throw new InvalidOperationException($"constant {call.Node}: data is {data} but the node is {call.Node.TypeString}");
        }

        return data;
    }

    private static HostTensor Arange(OpCall call)
    {
        var a = call.Attr<ArangeAttrs>();
        var v = new double[call.OutCount];
        for (int i = 0; i < v.Length; i++) v[i] = a.Start + (a.Step * i);
        return call.Result(v);
    }
}
