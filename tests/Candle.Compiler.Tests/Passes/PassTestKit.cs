using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Tests.Passes;

internal static class PassTestKit
{
    public static PassContext Context(int level = 3) => new(level) { VerifyEachPass = true };

    public static Graph RunPass(IPass pass, Graph g, int level = 3) => PassManager.RunOne(pass, g, Context(level));

    public static HostTensor RandomTensor(Node input, Random rng, double scale = 2.0)
    {
        var shape = input.Shape.ToInts();
        long n = shape.Aggregate(1L, (a, b) => a * b);
        var t = HostTensor.Zeros(input.DType, shape);
        for (long i = 0; i < n; i++) t.SetDouble(i, input.DType == DType.Bool ? rng.Next(2) : ((rng.NextDouble() * 2) - 1) * scale);
        return t;
    }

    public static HostTensor[] RandomInputs(Graph g, int seed = 1)
    {
        var rng = new Random(seed);
        return [.. g.Inputs.Select(i => RandomTensor(i, rng))];
    }

    public static void AssertClose(HostTensor expected, HostTensor actual, double rtol = 1e-4, double atol = 1e-4, string what = "")
    {
        Assert.Equal(expected.DType, actual.DType);
        Assert.Equal(expected.Shape, actual.Shape);
        for (long i = 0; i < expected.ElementCount; i++)
        {
            double e = expected.GetDouble(i), a = actual.GetDouble(i);
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            if (e.Equals(a)) continue;
            Assert.True(Math.Abs(e - a) <= atol + (rtol * Math.Abs(e)), $"{what}element {i}: expected {e}, got {a}");
        }
    }

    /// <summary>Runs both graphs on the same inputs with the reference interpreter and compares every output.</summary>
    public static void AssertSameResults(Graph before, Graph after, int seed = 1, double rtol = 1e-4, double atol = 1e-4, string what = "")
    {
        var inputs = RandomInputs(before, seed);
        var e = ReferenceInterpreter.Run(before, inputs);
        var a = ReferenceInterpreter.Run(after, inputs);
        Assert.Equal(e.Length, a.Length);
        for (int i = 0; i < e.Length; i++) AssertClose(e[i], a[i], rtol, atol, what);
    }

    /// <summary>IR text with the input names line dropped for brevity.</summary>
    public static string Ir(Graph g) => IrPrinter.Print(g);
}
