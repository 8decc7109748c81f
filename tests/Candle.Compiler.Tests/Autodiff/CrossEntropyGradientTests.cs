using Candle.Compiler.Autodiff;
using Candle.Compiler.Backends;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Compiler.Tests.Cpu;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Autodiff;

/// <summary>
/// The cross-entropy gradient over the logits is (softmax − one-hot(label)) · valid / count (computed here by hand in
/// float64), computed as one pass over tokens × vocabulary with the label's term scattered onto it in place; the causal
/// LM loss pairs position t's logits with label t + 1 and gives the last position a zero gradient.
/// </summary>
public class CrossEntropyGradientTests
{
    private static double[] Softmax(float[] x, int row, int v)
    {
        double max = double.NegativeInfinity;
        for (int c = 0; c < v; c++) max = Math.Max(max, x[(row * v) + c]);
        var e = new double[v];
        double sum = 0;
        for (int c = 0; c < v; c++) sum += e[c] = Math.Exp(x[(row * v) + c] - max);
        for (int c = 0; c < v; c++) e[c] /= sum;
        return e;
    }

    // Loss and gradient of mean cross-entropy over the rows whose label is not ignored.
    private static (double Loss, double[] Grad) Hand(float[] logits, long[] labels, int rows, int v)
    {
        int count = labels.Count(l => l != Losses.IgnoreIndex);
        var grad = new double[rows * v];
        double loss = 0;
        for (int r = 0; r < rows; r++)
        {
            if (labels[r] == Losses.IgnoreIndex) continue;
            var p = Softmax(logits, r, v);
            loss -= Math.Log(p[labels[r]]) / count;
            for (int c = 0; c < v; c++) grad[(r * v) + c] = (p[c] - (c == labels[r] ? 1 : 0)) / count;
        }

        return (loss, grad);
    }

    [Fact]
    public void CrossEntropyGradientIsSoftmaxMinusOneHotOverTheCount()
    {
        const int n = 6, v = 37;
        var rng = new Random(3);
        var logits = Enumerable.Range(0, n * v).Select(_ => (float)((rng.NextDouble() * 8) - 4)).ToArray();
        long[] labels = [3, Losses.IgnoreIndex, 0, 36, 3, 17];
        var x = Input("logits", DType.F32, Shape.Of(n, v));
        var y = Input("labels", DType.I64, Shape.Of(n));
        var loss = Losses.CrossEntropy(x, y);
        var grad = ReverseMode.Gradients(loss, [x])[0]!;
        var g = new Graph([x, y], [loss, grad], ["loss", "grad"]);

        // The gradient is the label's term scattered, in place, onto one elementwise pass: no tensor of zeros is filled
        // and scattered into, and the scatter writes its base's buffer.
        var kg = Scheduler.Schedule(CandleCompiler.Optimize(g), generateReductions: true);
        var scatter = Assert.Single(kg.Calls.OfType<ScatterAddCall>());
        Assert.Equal(scatter.X.Slot, scatter.Y);
        Assert.DoesNotContain(kg.Calls, c => c is FillCall { DType: DType.F32 });

        using var plan = CpuHarness.Compile(g, threads: 2, optLevel: 2);
        var results = plan.Run([HostTensor.FromArray(logits, n, v), HostTensor.FromArray(labels, n)]);
        var (wantLoss, wantGrad) = Hand(logits, labels, n, v);
        Assert.Equal(wantLoss, results[0].ToFloat64()[0], 5);
        AssertClose(wantGrad, results[1].ToFloat64());
    }

    [Fact]
    public void CausalLmLossPairsEachPositionWithTheNextLabel()
    {
        const int b = 2, s = 5, v = 11;
        var rng = new Random(5);
        var logits = Enumerable.Range(0, b * s * v).Select(_ => (float)((rng.NextDouble() * 6) - 3)).ToArray();
        long[] labels = [1, 4, 7, Losses.IgnoreIndex, 2, 10, 0, 3, 3, 9];
        var x = Input("logits", DType.F32, Shape.Of(b, s, v));
        var y = Input("labels", DType.I64, Shape.Of(b, s));
        var loss = Losses.CausalLm(x, y);
        var grad = ReverseMode.Gradients(loss, [x])[0]!;
        var g = new Graph([x, y], [loss, grad], ["loss", "grad"]);

        // By hand: row (i, t) of the logits predicts labels[i, t + 1]; the last position predicts nothing.
        var shifted = new long[b * s];
        for (int i = 0; i < b; i++)
        {
            for (int t = 0; t < s; t++) shifted[(i * s) + t] = t + 1 < s ? labels[(i * s) + t + 1] : Losses.IgnoreIndex;
        }

        var (wantLoss, wantGrad) = Hand(logits, shifted, b * s, v);
        using var plan = CpuHarness.Compile(g, threads: 2, optLevel: 2);
        var results = plan.Run([HostTensor.FromArray(logits, b, s, v), HostTensor.FromArray(labels, b, s)]);
        Assert.Equal(wantLoss, results[0].ToFloat64()[0], 5);
        AssertClose(wantGrad, results[1].ToFloat64());

        // The reference interpreter runs the graph as written: the same values.
        using var interpreter = CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = BackendRegistry.Get("reference") });
        var reference = interpreter.Run([HostTensor.FromArray(logits, b, s, v), HostTensor.FromArray(labels, b, s)]);
        Assert.Equal(wantLoss, reference[0].ToFloat64()[0], 5);
        AssertClose(wantGrad, reference[1].ToFloat64());
    }

    [Fact]
    public void AScatterBaseReadElsewhereKeepsItsValue()
    {
        // e = exp(x) is both scatter_add's base and read by the sum after it: the scatter must not write e's buffer.
        var x = Input("x", DType.F32, Shape.Of(3, 4));
        var i = Input("i", DType.I64, Shape.Of(3, 1));
        var e = Unary(Op.Exp, x);
        var scattered = ScatterAdd(e, 1, i, Full(10, DType.F32, Shape.Of(3, 1)));
        var g = new Graph([x, i], [Binary(Op.Add, scattered, e)], ["y"]);
        var kg = Scheduler.Schedule(CandleCompiler.Optimize(g), generateReductions: true);
        var scatter = Assert.Single(kg.Calls.OfType<ScatterAddCall>());
        Assert.NotEqual(scatter.X.Slot, scatter.Y);

        var xs = Enumerable.Range(0, 12).Select(k => (float)(k * 0.1)).ToArray();
        long[] idx = [0, 3, 1];
        using var plan = CpuHarness.Compile(g, threads: 2);
        var y = plan.Run([HostTensor.FromArray(xs, 3, 4), HostTensor.FromArray(idx, 3, 1)])[0].ToFloat64();
        for (int r = 0; r < 3; r++)
        {
            for (int c = 0; c < 4; c++)
            {
                double want = (2 * Math.Exp(xs[(r * 4) + c])) + (c == idx[r] ? 10 : 0);
                Assert.Equal(want, y[(r * 4) + c], 4);
            }
        }
    }

    private static void AssertClose(double[] want, double[] got)
    {
        Assert.Equal(want.Length, got.Length);
        double scale = Math.Max(want.Max(Math.Abs), 1e-12);
        for (int k = 0; k < want.Length; k++) Assert.True(Math.Abs(want[k] - got[k]) <= 1e-5 * scale, $"element {k}: want {want[k]}, got {got[k]}");
    }
}
