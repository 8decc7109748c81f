using Candle.Compiler.Backends.Reference;
using Candle.Runtime;
using CsCheck;

namespace Candle.Torch.Tests;

/// <summary>Eager results equal traced-and-run results for random op chains on random shapes.</summary>
public class PropertyTests
{
    private static readonly Func<Tensor, Tensor, Tensor>[] Steps =
    [
        (x, y) => x + y,
        (x, y) => x * y,
        (x, y) => x - (y * 0.5),
        (x, y) => x.Maximum(y),
        (x, _) => x.Tanh(),
        (x, _) => x.Silu(),
        (x, _) => x.Gelu(),
        (x, _) => x.Abs().Sqrt(),
        (x, _) => x.Exp() / (1 + x.Exp()),
        (x, _) => x.Softmax(-1),
        (x, _) => x - x.Mean(-1, keepDim: true),
        (x, _) => x + x.Sum(0, keepDim: true),
        (x, _) => x.Transpose(0, -1).Transpose(0, -1),
        (x, _) => Tensor.Where(x > 0, x, x * 0.1),
        (x, y) => x.Flip(-1) + y,
        (x, _) => x.CumSum(-1),
        (x, _) => x.AMax([0], keepDim: true).ExpandAs(x),
    ];

    private static readonly Gen<(int[] Shape, int[] Ops, int Seed)> Cases =
        Gen.Select(
            Gen.Int[1, 3].SelectMany(r => Gen.Int[1, 5].Array[r]),
            Gen.Int[0, Steps.Length - 1].Array[1, 6],
            Gen.Int);

    [Fact]
    public void Eager_equals_traced_for_random_chains()
    {
        Cases.Sample(c =>
        {
            long[] shape = [.. c.Shape.Select(d => (long)d)];
            var x = Tensors.Randn(shape, c.Seed);
            var y = Tensors.Randn(shape, c.Seed + 1);
            Tensor Chain(Tensor a, Tensor b)
            {
                foreach (int op in c.Ops) a = Steps[op](a, b);
                return a;
            }

            var eager = Chain(x, y).ToFloatArray();
            object[] dims = [.. c.Shape.Select((d, i) => (object)(i == 0 ? "n" : (long)d))];
            var g = Tracer.Trace(xs => [Chain(xs[0], xs[1])], new TraceInput("x", DType.F32, dims), new TraceInput("y", DType.F32, dims));
            var traced = ReferenceInterpreter.Run(g, [x.ToHostTensor(), y.ToHostTensor()])[0].ToFloat32();
            Assert.Equal(eager, traced);
        }, iter: 60);
    }

    [Fact]
    public void Reductions_agree_with_sums_of_slices()
    {
        Gen.Select(Gen.Int[1, 4], Gen.Int[1, 4], Gen.Int[0, 4], Gen.Int).Sample((a, b, c, seed) =>
        {
            var x = Tensors.Randn([a, b, c], seed);
            var total = x.Sum().Item();
            var bySlices = x.Unbind(0).Sum(t => t.Sum().Item());
            Assert.True(Math.Abs(total - bySlices) <= 1e-5 * (1 + Math.Abs(total)), $"sum {total} vs sum of slice sums {bySlices}");
            Assert.Equal(x.Sum(1).Sum(0).ToFloatArray(), x.Sum([0, 1]).ToFloatArray(), (p, q) => Math.Abs(p - q) < 1e-4);
            if (c > 0) Assert.Equal(x.Max().Item(), x.AMax([2]).Max().Item());
        }, iter: 40);
    }
}
