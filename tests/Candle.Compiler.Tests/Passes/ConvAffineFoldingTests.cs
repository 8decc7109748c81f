using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Compiler.Tests.Cpu;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Passes;

/// <summary>
/// <see cref="ConvAffineFolding"/>: per-channel affine maps after convolutions with constant weights fold into the
/// weights and bias; the reference interpreter on the graph as written is the oracle, and the ops that folded are gone.
/// </summary>
public sealed class ConvAffineFoldingTests
{
    private const int Cin = 5, Cout = 7;

    [Fact]
    public void Inference_batch_norm_after_a_convolution_folds_into_it()
    {
        var rng = new Random(5);
        var x = Input("x", DType.F32, Shape.Of(2, Cin, 9, 8));
        var conv = Conv(x, Weight(rng, "w", Cout, Cin, 3, 3), Weight(rng, "b", Cout), [1, 1], [1, 1], [1, 1], 1);
        Node Channel(string name, double lo, double hi) => Reshape(Constant(CpuHarness.Random(rng, DType.F32, [Cout], lo, hi), name), Shape.Of(Cout, 1, 1));
        var inv = Unary(Op.Rsqrt, Binary(Op.Add, Channel("var", 0.1, 2), Scalar(1e-5, DType.F32)));
        var bn = Binary(Op.Add, Binary(Op.Mul, Binary(Op.Mul, Binary(Op.Sub, conv, Channel("mean", -1, 1)), inv), Channel("gamma", -2, 2)), Channel("beta", -1, 1));
        var g = new Graph([x], [Unary(Op.Relu, bn)]);

        var folded = Check(g);
        Assert.Single(folded.Nodes, n => n.Op == Op.Conv);
        Assert.DoesNotContain(folded.Nodes, n => n.Op is Op.Add or Op.Sub or Op.Mul);
        CpuHarness.CheckAgainstReference(g, [CpuHarness.Random(new Random(1), DType.F32, [2, Cin, 9, 8], -1, 1)], 1e-4, 1e-4, threads: 2);
    }

    [Fact]
    public void Every_batch_norm_of_a_deep_residual_chain_folds()
    {
        // Twelve blocks of conv, batch norm, residual add and ReLU: 48 foldable ops, more than any fixed number of
        // sweeps that fold one op of the chain each would reach.
        var rng = new Random(11);
        var x = Input("x", DType.F32, Shape.Of(1, Cout, 6, 5));
        Node Channel(string name, double lo, double hi) => Reshape(Constant(CpuHarness.Random(rng, DType.F32, [Cout], lo, hi), name), Shape.Of(Cout, 1, 1));
        Node h = x;
        for (int i = 0; i < 12; i++)
        {
            var conv = Conv(h, Weight(rng, $"w{i}", Cout, Cout, 3, 3), null, [1, 1], [1, 1], [1, 1], 1);
            var inv = Unary(Op.Rsqrt, Binary(Op.Add, Channel($"var{i}", 0.5, 2), Scalar(1e-5, DType.F32)));
            var bn = Binary(Op.Add, Binary(Op.Mul, Binary(Op.Mul, Binary(Op.Sub, conv, Channel($"mean{i}", -1, 1)), inv), Channel($"gamma{i}", -1, 1)), Channel($"beta{i}", -1, 1));
            h = Unary(Op.Relu, Binary(Op.Add, bn, h));
        }

        var folded = Check(new Graph([x], [h]));
        Assert.Equal(12, folded.Nodes.Count(n => n.Op == Op.Conv));
        Assert.Equal(12, folded.Nodes.Count(n => n.Op == Op.Add));
        Assert.DoesNotContain(folded.Nodes, n => n.Op is Op.Sub or Op.Mul);
    }

    [Fact]
    public void Per_channel_operands_written_out_over_the_positions_fold_and_varying_ones_do_not()
    {
        // Constant folding writes a small broadcast [1, C, 1, 1] → [1, C, H, W] out as a dense constant.
        var rng = new Random(13);
        var x = Input("x", DType.F32, Shape.Of(1, Cin, 6, 5));
        var perChannel = CpuHarness.Random(rng, DType.F32, [Cout], 0.5, 2).ToFloat32();
        float[] dense = [.. Enumerable.Range(0, Cout * 6 * 5).Select(i => perChannel[i / 30])];
        Node Conv1(string name) => Conv(x, Weight(rng, name, Cout, Cin, 3, 3), null, [1, 1], [1, 1], [1, 1], 1);
        var uniform = Binary(Op.Mul, Conv1("w1"), Constant(HostTensor.FromArray(dense, 1, Cout, 6, 5), "s"));
        var folded = Check(new Graph([x], [uniform]));
        Assert.DoesNotContain(folded.Nodes, n => n.Op == Op.Mul);

        float[] varying = [.. dense];
        varying[(3 * 30) + 17] += 1;
        var kept = Binary(Op.Mul, Conv1("w2"), Constant(HostTensor.FromArray(varying, 1, Cout, 6, 5), "v"));
        Assert.Contains(Check(new Graph([x], [kept])).Nodes, n => n.Op == Op.Mul);
    }

    [Fact]
    public void Scalars_divisions_and_reversed_subtractions_fold_for_one_and_two_dim_convolutions()
    {
        var rng = new Random(7);
        var x1 = Input("x1", DType.F32, Shape.Of(3, Cin, 11));
        var c1 = Conv(x1, Weight(rng, "w1", Cout, Cin, 3), null, [2], [1], [1], 1);
        var y1 = Binary(Op.Div, Binary(Op.Sub, Constant(CpuHarness.Random(rng, DType.F32, [Cout, 1], -1, 1), "a"), c1), Scalar(4.0, DType.F32));
        var x2 = Input("x2", DType.F32, Shape.Of(1, 2 * Cin, 6, 6));
        var c2 = Conv(x2, Weight(rng, "w2", 2 * Cout, Cin, 1, 1), Weight(rng, "b2", 2 * Cout), [1, 1], [0, 0], [1, 1], 2);
        var y2 = Binary(Op.Mul, Constant(CpuHarness.Random(rng, DType.F32, [1, 2 * Cout, 1, 1], 0.5, 2), "s"), c2);
        var folded = Check(new Graph([x1, x2], [y1, y2]));
        Assert.True(!folded.Nodes.Any(n => n.Op is Op.Sub or Op.Mul or Op.Div), string.Join("\n", folded.Nodes.Select(n => n.ToString())));
    }

    [Fact]
    public void Nothing_folds_where_the_convolution_is_read_elsewhere_or_the_operand_varies()
    {
        var rng = new Random(9);
        var x = Input("x", DType.F32, Shape.Of(1, Cin, 6, 6));
        var conv = Conv(x, Weight(rng, "w", Cout, Cin, 3, 3), null, [1, 1], [0, 0], [1, 1], 1);
        var shared = new Graph([x], [Binary(Op.Mul, conv, Scalar(2.0, DType.F32)), conv]);
        Assert.Contains(Check(shared).Nodes, n => n.Op == Op.Mul);

        var perPosition = Binary(Op.Add, conv, Constant(CpuHarness.Random(rng, DType.F32, [1, 1, 4, 4], -1, 1), "p"));
        Assert.Contains(Check(new Graph([x], [perPosition])).Nodes, n => n.Op == Op.Add);

        var s = Input("s", DType.F32, Shape.Of(Cout, 1, 1));
        var given = Binary(Op.Mul, Conv(x, Weight(rng, "w3", Cout, Cin, 1, 1), null, [1, 1], [0, 0], [1, 1], 1), s);
        Assert.Contains(Check(new Graph([x, s], [given])).Nodes, n => n.Op == Op.Mul);
    }

    private static Node Weight(Random rng, string name, params int[] shape) => Constant(CpuHarness.Random(rng, DType.F32, shape, -1, 1), name);

    // Runs the pass alone and checks the folded graph against the graph as written on the reference interpreter.
    private static Graph Check(Graph g)
    {
        var folded = PassTestKit.RunPass(new ConvAffineFolding(), g, level: 2);
        var inputs = PassTestKit.RandomInputs(g, seed: 3);
        var expected = ReferenceInterpreter.Run(g, inputs);
        var actual = ReferenceInterpreter.Run(folded, inputs);
        for (int o = 0; o < expected.Length; o++) PassTestKit.AssertClose(expected[o], actual[o], what: $"output {o} ");
        return folded;
    }
}
