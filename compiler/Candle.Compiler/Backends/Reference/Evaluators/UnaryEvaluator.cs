using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>One-input elementwise ops and casts: floats in double, integers in long.</summary>
internal static class UnaryEvaluator
{
    public static HostTensor Evaluate(OpCall call)
    {
        var x = call[0];
        if (call.Op == Op.Cast)
        {
            return x.DType.IsFloat() ? call.Result(TensorData.ReadDoubles(x)) : call.Result(TensorData.ReadLongs(x));
        }

        if (x.DType.IsFloat())
        {
            var v = TensorData.ReadDoubles(x);
            Func<double, double> f = FloatFunction(call);
            for (int i = 0; i < v.Length; i++) v[i] = f(v[i]);
            return call.Result(v);
        }

        var l = TensorData.ReadLongs(x);
        Func<long, long> g = IntegerFunction(call);
        for (int i = 0; i < l.Length; i++) l[i] = g(l[i]);
        return call.Result(l);
    }

    private static Func<double, double> FloatFunction(OpCall call) => call.Op switch
    {
        Op.Neg => x => -x,
        Op.Abs => Math.Abs,
        Op.Exp => Math.Exp,
        Op.Log => Math.Log,
        Op.Sqrt => Math.Sqrt,
        Op.Rsqrt => x => 1.0 / Math.Sqrt(x),
        Op.Sin => Math.Sin,
        Op.Cos => Math.Cos,
        Op.Tanh => Math.Tanh,
        Op.Sigmoid => ReferenceMath.Sigmoid,
        Op.Relu => ReferenceMath.Relu,
        Op.Gelu => ReferenceMath.Gelu,
        Op.GeluTanh => ReferenceMath.GeluTanh,
        Op.Silu => ReferenceMath.Silu,
        Op.Erf => ReferenceMath.Erf,
        Op.Floor => Math.Floor,
        Op.Ceil => Math.Ceiling,
        Op.Round => x => Math.Round(x, MidpointRounding.ToEven),
        Op.Sign => ReferenceMath.Sign,
        Op.Reciprocal => x => 1.0 / x,
        _ => throw new InvalidOperationException($"{call.Describe()}: not defined for floating-point tensors"),
    };

    private static Func<long, long> IntegerFunction(OpCall call) => call.Op switch
    {
        Op.Neg => x => unchecked(-x),
        Op.Abs => x => x < 0 ? unchecked(-x) : x,
        Op.Relu => x => x > 0 ? x : 0,
        Op.Floor or Op.Ceil or Op.Round => x => x,
        Op.Sign => x => Math.Sign(x),
        Op.LogicalNot => x => x == 0 ? 1 : 0,
        _ => throw new InvalidOperationException($"{call.Describe()}: needs a floating-point input"),
    };
}
