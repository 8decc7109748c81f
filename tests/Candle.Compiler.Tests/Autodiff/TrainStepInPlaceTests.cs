using Candle.Compiler.Autodiff;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Autodiff;

/// <summary>
/// The compiled train step writes parameters and optimizer state into their donated inputs' buffers, and the values
/// it writes are AdamW's (PyTorch's rule, computed here by hand in float64 from the analytic gradient).
/// </summary>
public class TrainStepInPlaceTests
{
    [Fact]
    public void AdamWUpdatesParametersAndStateInPlaceWithPyTorchsRule()
    {
        const int n = 5, k = 4, m = 3;
        var rng = new Random(7);
        double[] x = [.. Enumerable.Range(0, n * k).Select(_ => rng.NextDouble() * 2 - 1)];
        double[] w0 = [.. Enumerable.Range(0, k * m).Select(_ => rng.NextDouble() * 2 - 1)];

        // loss = sum((x·W)²): dL/dW = 2·xᵀ(x·W).
        var xIn = Input("x", DType.F32, Shape.Of(n, k));
        var w = Constant(HostTensor.FromArray(w0.Select(v => (float)v).ToArray(), k, m), "w");
        var y = MatMul(xIn, w);
        var lossGraph = new Graph([xIn], [Reduce(Op.Sum, Binary(Op.Mul, y, y))], ["loss"]);
        var optimizer = new AdamW(learningRate: 0.05, weightDecay: 0.1);
        var step = TrainStep.Build(lossGraph, "loss", [("w", w)], optimizer);
        using var plan = CandleCompiler.Compile(step.Graph);

        var def = plan.Definition;
        foreach (var (output, input) in new[] { ("param.w", "w"), ("state.exp_avg.w", "exp_avg.w"), ("state.exp_avg_sq.w", "exp_avg_sq.w") })
        {
            var o = def.Outputs.Single(t => t.Name == output);
            Assert.Equal(BufferKind.Input, def.Buffers[o.Buffer].Kind);
            Assert.Equal(def.Inputs.Single(t => t.Name == input).Buffer, o.Buffer);
        }

        var param = HostTensor.FromArray(w0.Select(v => (float)v).ToArray(), k, m);
        var expAvg = HostTensor.Zeros(DType.F32, k, m);
        var expAvgSq = HostTensor.Zeros(DType.F32, k, m);
        var xs = HostTensor.FromArray(x.Select(v => (float)v).ToArray(), n, k);
        double[] p = [.. w0], ma = new double[k * m], va = new double[k * m];
        for (int t = 1; t <= 3; t++)
        {
            var scalars = optimizer.Scalars(t, optimizer.LearningRate);
            var args = def.Inputs.Select(i => i.Name switch
            {
                "x" => xs,
                "w" => param,
                "exp_avg.w" => expAvg,
                "exp_avg_sq.w" => expAvgSq,
                _ => HostTensor.FromArray([(float)scalars[optimizer.ScalarNames.ToList().IndexOf(i.Name["hp.".Length..])]]).Reshape(),
            }).ToArray();
            var results = plan.Run(args);

            // The hand computation: g = 2·xᵀ(x·p); p ← p·(1 − lr·wd); m, v ← moments; p ← p − lr/(1−β₁ᵗ)·m/(√v/√(1−β₂ᵗ) + ε).
            var g = new double[k * m];
            for (int r = 0; r < n; r++)
            {
                for (int c = 0; c < m; c++)
                {
                    double yv = 0;
                    for (int j = 0; j < k; j++) yv += x[(r * k) + j] * p[(j * m) + c];
                    for (int j = 0; j < k; j++) g[(j * m) + c] += 2 * x[(r * k) + j] * yv;
                }
            }

            for (int i = 0; i < p.Length; i++)
            {
                p[i] *= 1 - (0.05 * 0.1);
                ma[i] = (0.9 * ma[i]) + (0.1 * g[i]);
                va[i] = (0.999 * va[i]) + (0.001 * g[i] * g[i]);
                p[i] -= 0.05 / (1 - Math.Pow(0.9, t)) * ma[i] / ((Math.Sqrt(va[i]) / Math.Sqrt(1 - Math.Pow(0.999, t))) + 1e-8);
            }

            var names = def.Outputs.Select(o => o.Name).ToList();
            AssertClose(p, results[names.IndexOf("param.w")].ToFloat64());
            AssertClose(ma, results[names.IndexOf("state.exp_avg.w")].ToFloat64());
            AssertClose(va, results[names.IndexOf("state.exp_avg_sq.w")].ToFloat64());

            // Written in place: the inputs hold the new values.
            AssertClose(p, param.ToFloat64());
            AssertClose(ma, expAvg.ToFloat64());
            AssertClose(va, expAvgSq.ToFloat64());
        }
    }

    [Fact]
    public void AParameterReadAfterTheUpdateIsNotOverwritten()
    {
        // The graph returns both p·2 (an elementwise result that could go into p's buffer) and p itself: p must keep
        // its value, so the product gets a buffer of its own.
        var p = DonatedInput("p", DType.F32, Shape.Of(4));
        var twice = Binary(Op.Mul, p, 2.0);
        var g = new Graph([p], [twice, p], ["twice", "same"]);
        using var plan = CandleCompiler.Compile(g);
        var input = HostTensor.FromArray(new float[] { 1, 2, 3, 4 }, 4);
        var results = plan.Run([input]);
        Assert.Equal(new double[] { 2, 4, 6, 8 }, results[0].ToFloat64());
        Assert.Equal(new double[] { 1, 2, 3, 4 }, results[1].ToFloat64());
        Assert.Equal(new double[] { 1, 2, 3, 4 }, input.ToFloat64());
    }

    private static void AssertClose(double[] want, double[] got)
    {
        Assert.Equal(want.Length, got.Length);
        double scale = Math.Max(want.Max(Math.Abs), 1e-12);
        for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(want[i] - got[i]) <= 1e-5 * scale, $"element {i}: want {want[i]}, got {got[i]}");
    }
}
