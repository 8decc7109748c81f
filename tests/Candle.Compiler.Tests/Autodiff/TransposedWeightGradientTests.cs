using Candle.Compiler.Autodiff;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Autodiff;

/// <summary>
/// The weight gradient of x·wᵀ (nn.Linear's layout, and a tied LM head's) is computed as one product in w's own
/// layout (dyᵀ·x), with no transposed copy, and equals the hand-computed Σ_rows 2·y_row ⊗ x_row.
/// </summary>
public class TransposedWeightGradientTests
{
    [Fact]
    public void LinearWeightGradientIsOneProductInTheWeightsLayout()
    {
        const int b = 2, t = 3, k = 4, n = 5;
        var rng = new Random(11);
        float[] xs = [.. Enumerable.Range(0, b * t * k).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        float[] ws = [.. Enumerable.Range(0, n * k).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        var x = Input("x", DType.F32, Shape.Of(b, t, k));
        var w = Input("w", DType.F32, Shape.Of(n, k));
        var y = Linear(x, w);
        var loss = Reduce(Op.Sum, Binary(Op.Mul, y, y));
        var grad = ReverseMode.Gradients(loss, [w])[0];
        using var plan = CandleCompiler.Compile(new Graph([x, w], [grad], ["grad.w"]));

        Assert.DoesNotContain(plan.Definition.Steps, s => s.Kernel == "rt:copy");
        // The forward product and the weight gradient's.
        Assert.Equal(2, plan.Definition.Steps.Count(s => s.Kernel.StartsWith("rt:gemm", StringComparison.Ordinal)));

        var got = plan.Run([HostTensor.FromArray(xs, b, t, k), HostTensor.FromArray(ws, n, k)])[0].ToFloat64();
        var want = new double[n * k];
        for (int r = 0; r < b * t; r++)
        {
            for (int o = 0; o < n; o++)
            {
                double yv = 0;
                for (int j = 0; j < k; j++) yv += (double)xs[(r * k) + j] * ws[(o * k) + j];
                for (int j = 0; j < k; j++) want[(o * k) + j] += 2 * yv * xs[(r * k) + j];
            }
        }

        for (int i = 0; i < want.Length; i++) Assert.Equal(want[i], got[i], 1e-4);
    }
}
