using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Torch.Nn;

namespace Candle.Torch.Tests;

public class TracingTests
{
    [Fact]
    public void Traced_mlp_equals_eager()
    {
        Init.ManualSeed(1);
        var mlp = new Mlp(8, 16);
        var x = Tensors.Randn([3, 5, 8], seed: 3);
        var eager = mlp.Forward(x);
        var g = Tracer.Trace(mlp, new TraceInput("x", DType.F32, "batch", "seq", 8L));
        Assert.Equal(new Shape(Dim.Sym("batch"), Dim.Sym("seq"), 8), g.Outputs[0].Shape);
        Assert.Equal(["output"], g.OutputNames.ToArray());
        var run = ReferenceInterpreter.Run(g, [x.ToHostTensor()]);
        Assert.Equal(eager.ToFloatArray(), run[0].ToFloat32());
        // the same graph serves another batch and sequence length
        var x2 = Tensors.Randn([1, 2, 8], seed: 4);
        Assert.Equal(mlp.Forward(x2).ToFloatArray(), ReferenceInterpreter.Run(g, [x2.ToHostTensor()])[0].ToFloat32());
    }

    [Fact]
    public void Traced_parameters_are_constants_named_by_state_dict_names()
    {
        var model = new TinyModel(16, 8, 2);
        var g = Tracer.Trace(model, new TraceInput("input_ids", DType.I64, 1L, "seq"));
        var names = g.Nodes.Where(n => n.Op == Op.Constant).Select(n => n.Attr<ConstantAttrs>().Name).Where(n => n is not null).ToHashSet();
        Assert.Contains("layers.1.self_attn.q_proj.weight", names);
        Assert.Contains("embed_tokens.weight", names);
        Assert.Contains("norm.bias", names);
        Assert.DoesNotContain(g.Nodes, n => n.Op == Op.Constant && n.Attr<ConstantAttrs>().Name is null && n.Shape.Rank >= 2);
    }

    [Fact]
    public void Traced_attention_block_equals_eager()
    {
        Init.ManualSeed(2);
        var attn = new SelfAttention(32, 4, 2);
        var x = Tensors.Randn([2, 6, 32], seed: 9);
        var eager = attn.Forward(x);
        var g = Tracer.Trace(attn, new TraceInput("hidden", DType.F32, "batch", "seq", 32L));
        var run = ReferenceInterpreter.Run(g, [x.ToHostTensor()]);
        Assert.Equal(eager.ToFloatArray(), run[0].ToFloat32());

        // and the eager result matches plain loops
        var xs = x.ToFloatArray();
        var q = Oracle.Linear(xs, 12, 32, attn.QProj.Weight.ToFloatArray(), 32, null);
        var k = Oracle.Linear(xs, 12, 32, attn.KProj.Weight.ToFloatArray(), 16, null);
        var v = Oracle.Linear(xs, 12, 32, attn.VProj.Weight.ToFloatArray(), 16, null);
        var qh = Tensor.FromArray(q, 2, 6, 4, 8).Transpose(1, 2).ToFloatArray();
        var kh = Tensor.FromArray(k, 2, 6, 2, 8).Transpose(1, 2).ToFloatArray();
        var vh = Tensor.FromArray(v, 2, 6, 2, 8).Transpose(1, 2).ToFloatArray();
        var o = Oracle.Attention(qh, kh, vh, 2, 4, 2, 6, 6, 8, causal: true);
        var merged = Tensor.FromArray(o, 2, 4, 6, 8).Transpose(1, 2).ToFloatArray();
        Check.Close(Oracle.Linear(merged, 12, 32, attn.OProj.Weight.ToFloatArray(), 32, null), eager, 1e-4);
    }

    [Fact]
    public void Traced_full_model_equals_eager()
    {
        Init.ManualSeed(3);
        var model = new TinyModel(16, 8, 2);
        var ids = Tensor.FromArray([1L, 5L, 7L, 2L], 1, 4);
        var g = Tracer.Trace(model, new TraceInput("input_ids", DType.I64, 1L, "seq"));
        Verifier.Verify(g);
        var run = ReferenceInterpreter.Run(g, [ids.ToHostTensor()]);
        Assert.Equal(model.Forward(ids).ToFloatArray(), run[0].ToFloat32());
    }

    [Fact]
    public void Nothing_is_evaluated_while_tracing()
    {
        Tensor? inner = null;
        var g = Tracer.Trace(
            xs =>
            {
                Assert.True(Tracer.IsTracing);
                inner = Tensors.Ones(2) + 1;
                Assert.False(inner.HasData);
                Assert.Throws<InvalidOperationException>(() => xs[0].ToHostTensor());
                return [xs[0] + inner, xs[0] * 2];
            },
            [new TraceInput("x", DType.F32, 2L)],
            ["sum", "double"]);
        Assert.False(Tracer.IsTracing);
        Assert.Equal(["sum", "double"], g.OutputNames.ToArray());
        Check.Close([2, 2], inner!); // evaluates on request
        var run = ReferenceInterpreter.Run(g, [HostTensor.FromArray([1f, 2f], 2)]);
        Assert.Equal([3f, 4f], run[0].ToFloat32());
        Assert.Equal([2f, 4f], run[1].ToFloat32());
    }

    [Fact]
    public void Eager_ops_hold_data()
    {
        var x = Tensors.Ones(2, 2) * 3;
        Assert.True(x.HasData);
        Assert.Equal(Op.Constant, x.Node.Op);
        Assert.Equal(12, x.Sum().Item());
        Assert.Contains("3", x.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Trace_time_errors_name_op_shapes_and_dtypes()
    {
        var ex = Assert.Throws<IrException>(() => Tracer.Trace(
            xs => [xs[0].MatMul(xs[1])],
            new TraceInput("a", DType.F32, "seq", 4L),
            new TraceInput("b", DType.F32, 5L, 6L)));
        Assert.Contains("matmul", ex.Message, StringComparison.Ordinal);
        Assert.Contains("float32[seq, 4]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("inner dimensions differ: 4 vs 5", ex.Message, StringComparison.Ordinal);

        var ex2 = Assert.Throws<IrException>(() => Tracer.Trace(
            xs => [F.Softmax(xs[0], 0) + xs[1]],
            new TraceInput("a", DType.I64, 3L),
            new TraceInput("b", DType.F32, 4L)));
        Assert.Contains("add", ex2.Message, StringComparison.Ordinal);
        Assert.Contains("[3]", ex2.Message, StringComparison.Ordinal);
        Assert.Contains("[4]", ex2.Message, StringComparison.Ordinal);

        var ex3 = Assert.Throws<IrException>(() => Tracer.Trace(
            xs => [xs[0].IndexSelect(0, xs[1])],
            new TraceInput("table", DType.F32, 10L, 4L),
            new TraceInput("ids", DType.F32, "seq")));
        Assert.Contains("index_select", ex3.Message, StringComparison.Ordinal);
        Assert.Contains("int64", ex3.Message, StringComparison.Ordinal);
        Assert.Contains("float32", ex3.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Trace_input_dims_validate()
    {
        Assert.Throws<ArgumentException>(() => new TraceInput("x", DType.F32, 2.5));
        Assert.Throws<ArgumentException>(() => new TraceInput("x", DType.F32, -1L));
        var t = new TraceInput("x", DType.F32, 2, "n", Dim.Sym("m") * 2);
        Assert.Equal("x: float32[2, n, 2*m]", t.ToString());
    }

    [Fact]
    public void Symbolic_shapes_flow_through_movement_ops()
    {
        var g = Tracer.Trace(
            xs =>
            {
                var x = xs[0];
                var parts = x.Chunk(2, -1);
                var y = Tensors.Cat([parts[1], parts[0]], -1).Flatten(0, 1);
                var mask = Tensors.Ones(new Shape(x.Shape[1], x.Shape[1])).Tril();
                return [y, mask, x[.., 1..], x.Narrow(1, 0, 1)];
            },
            new TraceInput("x", DType.F32, "b", "s", 6L));
        var input = Tensors.Randn([2, 3, 6], seed: 1);
        var run = ReferenceInterpreter.Run(g, [input.ToHostTensor()]);
        var p = input.Chunk(2, -1);
        Assert.Equal(Tensors.Cat([p[1], p[0]], -1).Flatten(0, 1).ToFloatArray(), run[0].ToFloat32());
        Assert.Equal(Tensors.Ones(3, 3).Tril().ToFloatArray(), run[1].ToFloat32());
        Assert.Equal(input[.., 1..].ToFloatArray(), run[2].ToFloat32());
        Assert.Equal(input.Narrow(1, 0, 1).ToFloatArray(), run[3].ToFloat32());
    }
}
