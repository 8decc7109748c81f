using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>
/// Two-input elementwise ops (operands share shape and dtype) and where. Floats compute in double with
/// IEEE NaN rules (comparisons with NaN are false except ne; maximum/minimum propagate NaN); integers in long.
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
            if (call.Op.IsComparison())
            {
                Func<double, double, bool> cmp = FloatComparison(call.Op);
                var r = new long[a.Length];
                for (int i = 0; i < a.Length; i++) r[i] = cmp(a[i], b[i]) ? 1 : 0;
                return call.Result(r);
            }

            Func<double, double, double> f = FloatFunction(call);
            for (int i = 0; i < a.Length; i++) a[i] = f(a[i], b[i]);
            return call.Result(a);
        }

        var p = TensorData.ReadLongs(x);
        var q = TensorData.ReadLongs(y);
        if (call.Op.IsComparison())
        {
            Func<long, long, bool> cmp = IntegerComparison(call.Op);
            var r = new long[p.Length];
            for (int i = 0; i < p.Length; i++) r[i] = cmp(p[i], q[i]) ? 1 : 0;
            return call.Result(r);
        }

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

    private static Func<double, double, double> FloatFunction(OpCall call) => call.Op switch
    {
        Op.Add => (a, b) => a + b,
        Op.Sub => (a, b) => a - b,
        Op.Mul => (a, b) => a * b,
        Op.Div => (a, b) => a / b,
        Op.FloorDiv => ReferenceMath.FloorDivide,
        Op.Remainder => ReferenceMath.Remainder,
        Op.Pow => Math.Pow,
        Op.Maximum => Math.Max,
        Op.Minimum => Math.Min,
        _ => throw new InvalidOperationException($"{call.Describe()}: not defined for floating-point tensors"),
    };

    private static Func<long, long, long> IntegerFunction(OpCall call) => call.Op switch
    {
        Op.Add => (a, b) => unchecked(a + b),
        Op.Sub => (a, b) => unchecked(a - b),
        Op.Mul => (a, b) => unchecked(a * b),
        Op.FloorDiv => ReferenceMath.FloorDivide,
        Op.Remainder => ReferenceMath.Remainder,
        Op.Pow => ReferenceMath.Power,
        Op.Maximum => Math.Max,
        Op.Minimum => Math.Min,
        Op.LogicalAnd => (a, b) => a != 0 && b != 0 ? 1 : 0,
        Op.LogicalOr => (a, b) => a != 0 || b != 0 ? 1 : 0,
        _ => throw new InvalidOperationException($"{call.Describe()}: needs floating-point operands"),
    };

    private static Func<double, double, bool> FloatComparison(Op op) => op switch
    {
        Op.Eq => (a, b) => a == b,
        Op.Ne => (a, b) => a != b,
        Op.Lt => (a, b) => a < b,
        Op.Le => (a, b) => a <= b,
        Op.Gt => (a, b) => a > b,
        _ => (a, b) => a >= b,
    };

    private static Func<long, long, bool> IntegerComparison(Op op) => op switch
    {
        Op.Eq => (a, b) => a == b,
        Op.Ne => (a, b) => a != b,
        Op.Lt => (a, b) => a < b,
        Op.Le => (a, b) => a <= b,
        Op.Gt => (a, b) => a > b,
        _ => (a, b) => a >= b,
    };
}
