using Candle.Compiler.Autodiff;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Tests.Autodiff;

/// <summary>
/// Checks the gradients autodiff builds against central finite differences of the reference interpreter's forward
/// pass, in float64: loss = Σ r·f(inputs) with a random r, every element of every floating-point input perturbed.
/// </summary>
internal static class GradCheck
{
    public static void Check(Func<Node[], Node> f, params HostTensor[] inputs) => Check(f, 1e-6, 1e-5, inputs);

    public static void Check(Func<Node[], Node> f, double tolerance, double h, params HostTensor[] inputs)
    {
        var nodes = inputs.Select((t, i) => IrBuilder.Input($"x{i}", t.DType, Shape.Of(t.ShapeArray()))).ToArray();
        var y = f(nodes);
        Assert.True(y.DType.IsFloat(), $"the checked function returns {y.TypeString}");
        var weights = Random(new Random(12345), y.Shape.Select(d => (int)d.Value).ToArray(), -1, 1);
        var loss = IrBuilder.Reduce(Op.Sum, IrBuilder.Binary(Op.Mul, IrBuilder.Cast(y, DType.F64), IrBuilder.Constant(weights)));
        var wrt = nodes.Where(n => n.DType.IsFloat()).ToArray();
        Assert.NotEmpty(wrt);
        var grads = ReverseMode.Gradients(loss, wrt);
        var analytic = ReferenceInterpreter.Run(new Graph(nodes, grads), inputs);
        var lossGraph = new Graph(nodes, [loss]);
        int g = 0;
        for (int i = 0; i < inputs.Length; i++)
        {
            if (!inputs[i].DType.IsFloat()) continue;
            var grad = analytic[g++];
            Assert.Equal(inputs[i].ShapeArray(), grad.ShapeArray());
            var x = inputs[i];
            long count = x.ShapeArray().Aggregate(1L, (p, d) => p * d);
            for (long e = 0; e < count; e++)
            {
                double fd = CentralDifference(lossGraph, inputs, i, e, h);
                double got = grad.GetDouble(e);
                Assert.True(
                    Math.Abs(fd - got) <= tolerance * Math.Max(1, Math.Abs(fd)),
                    $"input {i} element {e}: autodiff {got}, finite differences {fd}");
            }
        }
    }

    /// <summary>
    /// The central difference of <paramref name="lossGraph"/>'s scalar output (run by the reference interpreter) in
    /// element <paramref name="e"/> of input <paramref name="i"/>, with step <paramref name="h"/>.
    /// </summary>
    public static double CentralDifference(Graph lossGraph, HostTensor[] inputs, int i, long e, double h)
    {
        var x = inputs[i];
        double v = x.GetDouble(e);
        var args = inputs.ToArray();
        var plus = x.Clone();
        plus.SetDouble(e, v + h);
        args[i] = plus;
        double lp = ReferenceInterpreter.Run(lossGraph, args)[0].GetDouble(0);
        var minus = x.Clone();
        minus.SetDouble(e, v - h);
        args[i] = minus;
        double lm = ReferenceInterpreter.Run(lossGraph, args)[0].GetDouble(0);
        return (lp - lm) / (2 * h);
    }

    public static HostTensor Random(Random rng, int[] shape, double lo, double hi)
    {
        int n = shape.Aggregate(1, (p, d) => p * d);
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = lo + ((hi - lo) * rng.NextDouble());
        return HostTensor.FromArray(v, shape);
    }

    public static HostTensor Indices(Random rng, int[] shape, int bound)
    {
        int n = shape.Aggregate(1, (p, d) => p * d);
        var v = new long[n];
        for (int i = 0; i < n; i++) v[i] = rng.Next(bound);
        return HostTensor.FromArray(v, shape);
    }
}
