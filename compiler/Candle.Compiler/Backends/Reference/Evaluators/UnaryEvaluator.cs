using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>One-input elementwise ops and casts: floats in double, integers in long, with the ops' runtime definitions.</summary>
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

    private static Func<double, double> FloatFunction(OpCall call) =>
        call.Op.Elementwise().Unary ?? throw new InvalidOperationException($"{call.Describe()}: not defined for floating-point tensors");

    private static Func<long, long> IntegerFunction(OpCall call) =>
        call.Op.Elementwise().UnaryInteger ?? throw new InvalidOperationException($"{call.Describe()}: needs a floating-point input");
}
