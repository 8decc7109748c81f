using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>
/// Two-input elementwise ops (operands share shape and dtype) and where. Floats compute in double with
/// IEEE NaN rules (comparisons with NaN are false except ne; maximum/minimum propagate NaN); integers in long; both
/// with the ops' runtime definitions (comparisons give 1 or 0).
/// </summary>
internal static class BinaryEvaluator
{
    public static HostTensor Evaluate(OpCall call)
    {
        if (call.Op == Op.Where)
        {
            return ElementCopy.Select(call[0], call[1], call[2], call.OutShape);
        }

        var (x, y) = (call[0], call[1]);
        if (x.DType.IsFloat())
        {
            var a = TensorData.ReadDoubles(x);
            var b = TensorData.ReadDoubles(y);
            Func<double, double, double> f = FloatFunction(call);
            for (int i = 0; i < a.Length; i++) a[i] = f(a[i], b[i]);
            return call.Result(a);
        }

        var p = TensorData.ReadLongs(x);
        var q = TensorData.ReadLongs(y);
        Func<long, long, long> g = IntegerFunction(call);
        try
        {
            for (int i = 0; i < p.Length; i++) p[i] = g(p[i], q[i]);
        }
        catch (DivideByZeroException e)
        {
            throw new DivideByZeroException($"{call.Describe()}: integer division by zero", e);
        }
        catch (ArithmeticException e)
        {
            throw new ArithmeticException($"{call.Describe()}: {e.Message}", e);
        }

        return call.Result(p);
    }

    private static Func<double, double, double> FloatFunction(OpCall call) =>
        call.Op.Elementwise().Binary ?? throw new InvalidOperationException($"{call.Describe()}: not defined for floating-point tensors");

    private static Func<long, long, long> IntegerFunction(OpCall call) =>
        call.Op.Elementwise().BinaryInteger ?? throw new InvalidOperationException($"{call.Describe()}: needs floating-point operands");
}
