using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Compiler.Tests.Cpu;
using Candle.Runtime;
using Candle.Runtime.Kernels.Quant;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Passes;

/// <summary>
/// <see cref="MatMulMerging"/>: products sharing a left operand with constant right operands become one product over
/// the concatenated constants plus slices; the reference interpreter on the graph as written is the oracle, and the
/// number of products left is counted.
/// </summary>
public sealed class MatMulMergingTests
{
    private static readonly BackendCapabilities Merging = CpuBackend.Instance.Capabilities with { MergesProducts = true };

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    public void Linear_layers_over_one_input_become_one_product(DType dt)
    {
        var rng = new Random(3);
        var x = Input("x", dt, new Shape(Dim.Sym("n"), Dim.Of(12)));
        var q = Linear(x, Weight(rng, dt, "q", 8, 12));
        var k = Linear(x, Weight(rng, dt, "k", 4, 12));
        var v = Linear(x, Weight(rng, dt, "v", 4, 12));
        var plain1 = MatMul(x, Weight(rng, dt, "p1", 12, 5));
        var plain2 = MatMul(x, Weight(rng, dt, "p2", 12, 3));
        var other = Linear(Unary(Op.Neg, x), Weight(rng, dt, "o", 6, 12));
        var g = new Graph([x], [Binary(Op.Add, q, Unary(Op.Neg, q)), k, Unary(Op.Exp, v), plain1, plain2, other]);

        var merged = Check(g);
        // One product for q, k, v (transposed weights), one for the plain constants, one left alone (another input).
        Assert.Equal(3, merged.Nodes.Count(n => n.Op == Op.MatMul));
        Assert.Equal(6, g.Nodes.Count(n => n.Op == Op.MatMul));
    }

    [Fact]
    public void Products_with_a_varying_or_mismatched_right_operand_stay_apart()
    {
        var rng = new Random(4);
        var x = Input("x", DType.F32, Shape.Of(3, 12));
        var w = Input("w", DType.F32, Shape.Of(12, 4));
        var g = new Graph([x, w], [MatMul(x, w), Linear(x, Weight(rng, DType.F32, "a", 4, 12)), MatMul(x, Weight(rng, DType.F32, "b", 12, 4))]);
        Assert.Equal(3, Check(g).Nodes.Count(n => n.Op == Op.MatMul));
    }

    [Fact]
    public void Backends_that_do_not_ask_for_it_keep_their_products()
    {
        var rng = new Random(5);
        var x = Input("x", DType.F32, Shape.Of(3, 12));
        var g = new Graph([x], [Linear(x, Weight(rng, DType.F32, "a", 4, 12)), Linear(x, Weight(rng, DType.F32, "b", 4, 12))]);
        var context = new PassContext(2) { Capabilities = CpuBackend.Instance.Capabilities };
        Assert.Same(g, PassManager.RunOne(new MatMulMerging(), g, context));
    }

    [Fact]
    public void Graphs_over_the_same_weights_share_one_merged_constant()
    {
        var rng = new Random(6);
        var a = Weight(rng, DType.F32, "a", 4, 12);
        var b = Weight(rng, DType.F32, "b", 5, 12);
        Runtime.Tensors.HostTensor MergedData(long rows)
        {
            var x = Input("x", DType.F32, Shape.Of(rows, 12));
            var merged = Check(new Graph([x], [Linear(x, a), Linear(x, b)]));
            return Assert.Single(merged.Nodes, n => n.Op == Op.Constant).Attr<ConstantAttrs>().Data;
        }

        Assert.Same(MergedData(3), MergedData(1));
    }

    [Fact]
    public void Quantized_products_of_one_block_type_over_one_input_become_one_product()
    {
        var rng = new Random(7);
        var x = Input("x", DType.F32, Shape.Of(5, 64));
        Node Q(GgmlType type, string name, int rows) => QuantConstant(QuantMatMulTests.RandomTensor(rng, type, rows, 64, name));
        var q = QuantMatMul(x, Q(GgmlType.Q4_0, "q", 8));
        var k = QuantMatMul(x, Q(GgmlType.Q4_0, "k", 3));
        var v = QuantMatMul(x, Q(GgmlType.Q4_0, "v", 5));
        var other = QuantMatMul(x, Q(GgmlType.Q8_0, "o", 4));
        var g = new Graph([x], [Binary(Op.Add, q, Reduce(Op.Sum, Unary(Op.Neg, k), [1], keepDim: true)), Unary(Op.Exp, v), other]);

        var merged = Check(g);
        // q, k and v share one product over their blocks one after another; the Q8_0 weight stays alone.
        var products = merged.Nodes.Where(n => n.Op == Op.QuantMatMul).Select(n => n.Inputs[1].Attr<QuantConstantAttrs>().Data).ToList();
        Assert.Equal(2, products.Count);
        var wide = Assert.Single(products, p => p.Type == GgmlType.Q4_0);
        Assert.Equal((16, "q+k+v"), (wide.Rows, wide.Name));

        // A second graph over the same weights gets the same merged tensor (a device uploads it once).
        var again = Check(g);
        Assert.Same(wide, again.Nodes.Where(n => n.Op == Op.QuantMatMul).Select(n => n.Inputs[1].Attr<QuantConstantAttrs>().Data).Single(p => p.Type == GgmlType.Q4_0));
    }

    private static Node Weight(Random rng, DType dt, string name, params int[] shape) => Constant(CpuHarness.Random(rng, dt, shape, -1, 1), name);

    // Runs the pass alone and checks the merged graph against the graph as written on the reference interpreter.
    private static Graph Check(Graph g)
    {
        var context = new PassContext(2) { VerifyEachPass = true, Capabilities = Merging };
        var merged = PassManager.RunOne(new MatMulMerging(), g, context);
        var rng = new Random(6);
        var inputs = g.Inputs.Select(i => CpuHarness.Random(rng, i.DType, i.Shape.IsStatic ? i.Shape.ToInts() : [5, 12], -1, 1)).ToArray();
        var expected = ReferenceInterpreter.Run(g, inputs);
        var actual = ReferenceInterpreter.Run(merged, inputs);
        for (int o = 0; o < expected.Length; o++) PassTestKit.AssertClose(expected[o], actual[o], what: $"output {o} ");
        return merged;
    }
}
