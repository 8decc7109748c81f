using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>
/// Reductions over axes (sum, mean, prod, max, min), argmax/argmin and cumsum. Float sums accumulate in
/// double; integer sums and products in int64 (wrapping). Max/min propagate NaN; argmax/argmin return the
/// first index of the extreme, NaN counting as the extreme. The mean of an empty set is NaN.
/// </summary>
internal static class ReduceEvaluator
{
    public static HostTensor Evaluate(OpCall call)
    {
        if (call.Op == Op.CumSum) return CumSum(call);
        var x = call[0];
        var (outer, inner) = Layout.Reduction(call.Shape(0), call.Attr<ReduceAttrs>().Axes);
        if (inner.Length == 0 && outer.Length > 0 && call.Op is Op.ArgMax or Op.ArgMin or Op.Max or Op.Min)
        {
            throw new ArgumentException($"{call.Describe()}: cannot reduce an empty set (the operation has no identity)");
        }

        if (call.Op is Op.ArgMax or Op.ArgMin) return ArgReduce(call, outer, inner);
        if (x.DType.IsFloat())
        {
            var v = TensorData.ReadDoubles(x);
            var r = new double[outer.Length];
            for (int o = 0; o < outer.Length; o++)
            {
                int b = outer[o];
                r[o] = call.Op switch
                {
                    Op.Sum => Sum(v, b, inner),
                    Op.Mean => Sum(v, b, inner) / inner.Length,
                    Op.Prod => Prod(v, b, inner),
                    Op.Max => Extreme(v, b, inner, max: true),
                    Op.Min => Extreme(v, b, inner, max: false),
                    _ => throw new InvalidOperationException($"{call.Describe()}: not a reduction"),
                };
            }

            return call.Result(r);
        }

        var l = TensorData.ReadLongs(x);
        var s = new long[outer.Length];
        for (int o = 0; o < outer.Length; o++)
        {
            int b = outer[o];
            long acc = call.Op switch
            {
                Op.Sum => 0,
                Op.Prod => 1,
                Op.Max => long.MinValue,
                Op.Min => long.MaxValue,
                _ => throw new InvalidOperationException($"{call.Describe()}: needs a floating-point input"),
            };
            unchecked
            {
                foreach (int j in inner)
                {
                    long e = l[b + j];
                    acc = call.Op switch
                    {
                        Op.Sum => acc + e,
                        Op.Prod => acc * e,
                        Op.Max => Math.Max(acc, e),
                        _ => Math.Min(acc, e),
                    };
                }
            }

            s[o] = acc;
        }

        return call.Result(s);
    }

    private static double Sum(double[] v, int b, int[] inner)
    {
        double acc = 0;
        foreach (int j in inner) acc += v[b + j];
        return acc;
    }

    private static double Prod(double[] v, int b, int[] inner)
    {
        double acc = 1;
        foreach (int j in inner) acc *= v[b + j];
        return acc;
    }

    private static double Extreme(double[] v, int b, int[] inner, bool max)
    {
        double acc = max ? double.NegativeInfinity : double.PositiveInfinity;
        foreach (int j in inner)
        {
            double e = v[b + j];
            if (double.IsNaN(e)) return e;
            if (max ? e > acc : e < acc) acc = e;
        }

        return acc;
    }

    private static HostTensor ArgReduce(OpCall call, int[] outer, int[] inner)
    {
        bool max = call.Op == Op.ArgMax;
        var x = call[0];
        var r = new long[outer.Length];
        if (x.DType.IsFloat())
        {
            var v = TensorData.ReadDoubles(x);
            for (int o = 0; o < outer.Length; o++)
            {
                int best = 0;
                double bv = v[outer[o] + inner[0]];
                for (int j = 1; j < inner.Length && !double.IsNaN(bv); j++)
                {
                    double e = v[outer[o] + inner[j]];
                    if (double.IsNaN(e) || (max ? e > bv : e < bv))
                    {
                        best = j;
                        bv = e;
                    }
                }

                r[o] = best;
            }
        }
        else
        {
            var v = TensorData.ReadLongs(x);
            for (int o = 0; o < outer.Length; o++)
            {
                int best = 0;
                long bv = v[outer[o] + inner[0]];
                for (int j = 1; j < inner.Length; j++)
                {
                    long e = v[outer[o] + inner[j]];
                    if (max ? e > bv : e < bv)
                    {
                        best = j;
                        bv = e;
                    }
                }

                r[o] = best;
            }
        }

        return call.Result(r);
    }

    private static HostTensor CumSum(OpCall call)
    {
        var x = call[0];
        var (outer, inner) = Layout.Reduction(call.Shape(0), [call.Attr<AxisAttrs>().Axis]);
        if (x.DType.IsFloat())
        {
            var v = TensorData.ReadDoubles(x);
            foreach (int b in outer)
            {
                double acc = 0;
                foreach (int j in inner)
                {
                    acc += v[b + j];
                    v[b + j] = acc;
                }
            }

            return call.Result(v);
        }

        var l = TensorData.ReadLongs(x);
        foreach (int b in outer)
        {
            long acc = 0;
            foreach (int j in inner)
            {
                acc = unchecked(acc + l[b + j]);
                l[b + j] = acc;
            }
        }

        return call.Result(l);
    }
}
