using Candle.Compiler.Autodiff;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Autodiff;

/// <summary>
/// The closed-form gradients of layer norm and RMS norm where <see cref="GradientCheckTests"/> does not reach: in
/// half precision (computed in the input's dtype, as the forward decomposition is) and compiled for the CPU backend
/// over rows longer than a vector, each against central finite differences of the float64 reference loss.
/// </summary>
public class NormGradientTests
{
    public static TheoryData<string, DType> HalfCases => new()
    {
        { "layer_norm", DType.F16 },
        { "layer_norm", DType.BF16 },
        { "rms_norm", DType.F16 },
        { "rms_norm", DType.BF16 },
    };

    public static TheoryData<string> Norms => ["layer_norm", "rms_norm", "layer_norm_two_dims"];

    [Theory]
    [MemberData(nameof(HalfCases))]
    public void HalfPrecisionGradientsFollowTheFloat64Ones(string norm, DType dtype)
    {
        var rng = new Random(7);
        // Inputs representable in the half type, so that only the gradient's arithmetic differs from float64's.
        var inputs = Rounded(dtype, GradCheck.Random(rng, [3, 4, 16], -1, 1), GradCheck.Random(rng, [16], 0.5, 1.5), GradCheck.Random(rng, [16], -1, 1));
        var nodes = Inputs(inputs);
        var r = GradCheck.Random(new Random(3), [3, 4, 16], -1, 1);
        var half = nodes.Select(n => Cast(n, dtype)).ToArray();
        var y = Cast(Norm(norm, half), DType.F64);
        var loss = Reduce(Op.Sum, Binary(Op.Mul, y, Constant(r)));
        var wrt = norm == "rms_norm" ? nodes[..2] : nodes;
        var gradients = ReverseMode.Gradients(loss, wrt);

        // The rule computes in the half type: the gradient of each half-precision operand has its dtype.
        var inner = ReverseMode.Gradients(loss, [.. half.Take(wrt.Length)]);
        Assert.All(inner, g => Assert.Equal(dtype, g.DType));

        var got = ReferenceInterpreter.Run(new Graph(nodes, gradients), inputs);
        var want = FiniteDifferences(x => Norm(norm, x), inputs, r, wrt.Length);
        // A few units in the last place of the half type, relative to the gradient's magnitude.
        double tolerance = dtype == DType.BF16 ? 1.5e-2 : 2e-3;
        for (int i = 0; i < wrt.Length; i++) AssertClose(want[i], got[i].ToFloat64(), tolerance, $"{norm} {dtype.TorchName()} input {i}");
    }

    [Theory]
    [MemberData(nameof(Norms))]
    public void CompiledGradientsMatchFiniteDifferences(string norm)
    {
        // Rows of 40 (layer norm over two dims: 5 × 8): a vector of 16 lanes, then a tail.
        var rng = new Random(norm.Length);
        int[] shape = norm == "layer_norm_two_dims" ? [2, 3, 5, 8] : [2, 3, 40];
        int[] param = norm == "layer_norm_two_dims" ? [5, 8] : [40];
        var inputs64 = new[] { GradCheck.Random(rng, shape, -2, 2), GradCheck.Random(rng, param, 0.5, 1.5), GradCheck.Random(rng, param, -1, 1) };
        var inputs = inputs64.Select(t => HostTensor.FromArray(t.ToFloat64().Select(v => (float)v).ToArray(), t.ShapeArray())).ToArray();
        int count = norm == "rms_norm" ? 2 : 3;
        var nodes = Inputs(inputs);
        var r = GradCheck.Random(new Random(5), shape, -1, 1);
        var y = Norm(norm, nodes);
        var loss = Reduce(Op.Sum, Binary(Op.Mul, y, Constant(HostTensor.FromArray(r.ToFloat64().Select(v => (float)v).ToArray(), shape))));
        var gradients = ReverseMode.Gradients(loss, nodes[..count]);
        using var plan = CandleCompiler.Compile(new Graph(nodes, gradients));
        var got = plan.Run(inputs);

        var want = FiniteDifferences(x => Norm(norm, x), [.. inputs.Select(t => HostTensor.FromArray(t.ToFloat64(), t.ShapeArray()))], r, count);
        for (int i = 0; i < count; i++) AssertClose(want[i], got[i].ToFloat64(), 2e-4, $"{norm} input {i}");
    }

    private static Node Norm(string norm, Node[] x) => norm switch
    {
        "layer_norm" => LayerNorm(x[0], x[1], x[2], 1e-5),
        "layer_norm_two_dims" => LayerNorm(x[0], x[1], x[2], 1e-3, 2),
        _ => RmsNorm(x[0], x[1], 1e-6),
    };

    private static Node[] Inputs(HostTensor[] inputs) =>
        [.. inputs.Select((t, i) => Input($"x{i}", t.DType, Shape.Of(t.ShapeArray())))];

    /// <summary>The float64 tensors rounded to <paramref name="dtype"/> and back.</summary>
    private static HostTensor[] Rounded(DType dtype, params HostTensor[] inputs)
    {
        var nodes = Inputs(inputs);
        return ReferenceInterpreter.Run(new Graph(nodes, [.. nodes.Select(n => Cast(Cast(n, dtype), DType.F64))]), inputs);
    }

    /// <summary>
    /// ∂(Σ r·f(x))/∂x_i for the first <paramref name="count"/> inputs by central differences of the float64 reference
    /// interpreter.
    /// </summary>
    private static double[][] FiniteDifferences(Func<Node[], Node> f, HostTensor[] inputs, HostTensor r, int count)
    {
        var nodes = Inputs(inputs);
        var lossGraph = new Graph(nodes, [Reduce(Op.Sum, Binary(Op.Mul, f(nodes), Constant(r)))]);
        const double h = 1e-5;
        var result = new double[count][];
        for (int i = 0; i < count; i++)
        {
            var d = new double[inputs[i].ToFloat64().Length];
            for (int e = 0; e < d.Length; e++) d[e] = GradCheck.CentralDifference(lossGraph, inputs, i, e, h);

            result[i] = d;
        }

        return result;
    }

    private static void AssertClose(double[] want, double[] got, double tolerance, string what)
    {
        Assert.Equal(want.Length, got.Length);
        for (int e = 0; e < want.Length; e++)
        {
            Assert.True(Math.Abs(want[e] - got[e]) <= tolerance * Math.Max(1, Math.Abs(want[e])), $"{what} element {e}: got {got[e]}, finite differences {want[e]}");
        }
    }
}
