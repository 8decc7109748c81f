using Candle.Compiler.Autodiff;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;
using static Candle.Compiler.Tests.Autodiff.GradCheck;

namespace Candle.Compiler.Tests.Autodiff;

/// <summary>Every op's vector-Jacobian rule against finite differences (float64, random shapes, broadcasting, strided views).</summary>
public class GradientCheckTests
{
    private static readonly Dictionary<string, Action<Random>> Cases = new()
    {
        // ---- unary
        ["neg"] = r => Unary1(r, Op.Neg, -2, 2),
        ["abs"] = r => Unary1(r, Op.Abs, 0.1, 2, negate: true),
        ["exp"] = r => Unary1(r, Op.Exp, -2, 2),
        ["log"] = r => Unary1(r, Op.Log, 0.2, 3),
        ["sqrt"] = r => Unary1(r, Op.Sqrt, 0.2, 3),
        ["rsqrt"] = r => Unary1(r, Op.Rsqrt, 0.2, 3),
        ["sin"] = r => Unary1(r, Op.Sin, -3, 3),
        ["cos"] = r => Unary1(r, Op.Cos, -3, 3),
        ["tanh"] = r => Unary1(r, Op.Tanh, -2, 2),
        ["sigmoid"] = r => Unary1(r, Op.Sigmoid, -3, 3),
        ["relu"] = r => Unary1(r, Op.Relu, 0.1, 2, negate: true),
        ["gelu"] = r => Unary1(r, Op.Gelu, -3, 3),
        ["gelu_tanh"] = r => Unary1(r, Op.GeluTanh, -3, 3),
        ["silu"] = r => Unary1(r, Op.Silu, -3, 3),
        ["erf"] = r => Unary1(r, Op.Erf, -2, 2),
        ["reciprocal"] = r => Unary1(r, Op.Reciprocal, 0.5, 2, negate: true),
        ["softplus"] = r => Check(x => Unary(Op.Softplus, x[0]), HostTensor.FromArray(new[] { -3.0, -0.5, 0.3, 2, 19.5, 21, 25 }, 7)),
        ["mish"] = r => Check(x => Unary(Op.Mish, x[0]), HostTensor.FromArray(new[] { -3.0, -0.5, 0.3, 2, 19.5, 21, 25 }, 7)),
        ["floor_no_gradient"] = r => Check(x => Binary(Op.Add, Unary(Op.Floor, x[0]), x[0]), HostTensor.FromArray(new[] { -1.3, 0.4, 2.2 }, 3)),

        // ---- binary, broadcasting
        ["add"] = r => Binary2(r, Op.Add),
        ["sub"] = r => Binary2(r, Op.Sub),
        ["mul"] = r => Binary2(r, Op.Mul),
        ["div"] = r => Binary2(r, Op.Div, 0.5, 2),
        ["pow"] = r => Binary2(r, Op.Pow, 0.5, 2),
        ["maximum"] = r => Binary2(r, Op.Maximum),
        ["minimum"] = r => Binary2(r, Op.Minimum),
        ["remainder"] = r => Check(x => Binary(Op.Remainder, x[0], x[1]), HostTensor.FromArray(new[] { 2.3, -1.7, 5.1, 0.4 }, 4), HostTensor.FromArray(new[] { 1.1, 0.9, -2.3, 0.7 }, 4)),
        ["mul_self"] = r => Check(x => Binary(Op.Mul, x[0], x[0]), Random(r, [3, 2], -2, 2)),
        ["where"] = r =>
        {
            var c = HostTensor.FromArray(new[] { true, false, false, true }, 4, 1);
            Check(x => Where(x[0], x[1], x[2]), c, Random(r, [4, 3], -1, 1), Random(r, [3], -1, 1));
        },

        // ---- reductions
        ["sum"] = r => Check(x => Reduce(Op.Sum, x[0], [0, 2]), Random(r, Dims(r, 3), -1, 1)),
        ["sum_keepdim"] = r => Check(x => Reduce(Op.Sum, x[0], [1], keepDim: true), Random(r, Dims(r, 3), -1, 1)),
        ["sum_all"] = r => Check(x => Reduce(Op.Sum, x[0]), Random(r, Dims(r, 2), -1, 1)),
        ["mean"] = r => Check(x => Reduce(Op.Mean, x[0], [1, 2]), Random(r, Dims(r, 3), -1, 1)),
        ["max"] = r => Check(x => Reduce(Op.Max, x[0], [1]), Random(r, Dims(r, 3), -1, 1)),
        ["min"] = r => Check(x => Reduce(Op.Min, x[0], [0], keepDim: true), Random(r, Dims(r, 2), -1, 1)),
        ["prod"] = r => Check(x => Reduce(Op.Prod, x[0], [1]), Random(r, Dims(r, 2), 0.5, 1.5)),
        ["cumsum"] = r => Check(x => CumSum(x[0], 1), Random(r, Dims(r, 3), -1, 1)),

        // ---- matmul
        ["matmul"] = r => Check(x => MatMul(x[0], x[1]), Random(r, [2, 3, 4], -1, 1), Random(r, [2, 4, 5], -1, 1)),
        ["matmul_broadcast_batch"] = r => Check(x => MatMul(x[0], x[1]), Random(r, [2, 3, 4], -1, 1), Random(r, [4, 2], -1, 1)),
        ["matmul_broadcast_two_batch_dims"] = r => Check(x => MatMul(Transpose(x[0], 0, 1), x[1]), Random(r, [3, 2, 3, 4], -1, 1), Random(r, [4, 2], -1, 1)),
        ["matmul_broadcast_keepdim_batch"] = r => Check(x => MatMul(x[0], x[1]), Random(r, [2, 3, 3, 4], -1, 1), Random(r, [1, 1, 4, 2], -1, 1)),
        ["matmul_vector"] = r => Check(x => MatMul(x[0], x[1]), Random(r, [4], -1, 1), Random(r, [3, 4, 2], -1, 1)),
        ["linear_transposed_weight"] = r => Check(x => Linear(x[0], x[1]), Random(r, [2, 3, 4], -1, 1), Random(r, [5, 4], -1, 1)),
        ["linear_transposed_weight_2d"] = r => Check(x => Linear(x[0], x[1]), Random(r, [3, 4], -1, 1), Random(r, [5, 4], -1, 1)),
        ["matmul_transposed_strided"] = r => Check(x => MatMul(Transpose(x[0], 0, 1), Slice(x[1], 1, 0, null, 2)), Random(r, [4, 3], -1, 1), Random(r, [4, 5], -1, 1)),

        // ---- movement
        ["reshape"] = r => Check(x => Exp(Reshape(x[0], 6, -1)), Random(r, [2, 3, 4], -1, 1)),
        ["permute"] = r => Check(x => Exp(Permute(x[0], 2, 0, 1)), Random(r, Dims(r, 3), -1, 1)),
        ["expand"] = r => Check(x => Exp(Expand(x[0], Shape.Of(3, 4, 2))), Random(r, [1, 4, 1], -1, 1)),
        ["slice_strided"] = r => Check(x => Exp(Slice(x[0], 1, 1, 6, 2)), Random(r, [3, 7], -1, 1)),
        ["concat"] = r => Check(x => Concat([x[0], x[1], x[0]], 1), Random(r, [2, 3], -1, 1), Random(r, [2, 2], -1, 1)),
        ["pad"] = r => Check(x => Exp(Pad(x[0], [1, 2, 0, 1], 0.5)), Random(r, [2, 3], -1, 1)),
        ["flip"] = r => Check(x => Exp(Flip(x[0], 0, 2)), Random(r, Dims(r, 3), -1, 1)),
        ["index_select_embedding"] = r => Check(x => IndexSelect(x[0], 0, x[1]), Random(r, [5, 3], -1, 1), HostTensor.FromArray(new long[] { 1, 4, 1, 0, 2, 1 }, 2, 3)),
        ["index_select_middle"] = r => Check(x => IndexSelect(x[0], 1, x[1]), Random(r, [2, 4, 3], -1, 1), HostTensor.FromArray(new long[] { 3, 3, 0 }, 3)),
        ["gather"] = r => Check(x => Gather(x[0], 1, x[1]), Random(r, [3, 4], -1, 1), Indices(r, [3, 5], 4)),
        ["scatter_add"] = r => Check(x => ScatterAdd(x[0], 0, x[1], x[2]), Random(r, [3, 4], -1, 1), Indices(r, [2, 4], 3), Random(r, [2, 4], -1, 1)),
        ["scatter_add_smaller_index"] = r => Check(x => ScatterAdd(x[0], 1, x[1], x[2]), Random(r, [3, 4], -1, 1), Indices(r, [2, 2], 4), Random(r, [3, 3], -1, 1)),
        // Adjacent slices that split a tensor, used differently (a fused projection's q, k and v): their adjoints are
        // concatenated; with a gap and an overlap they still add up.
        ["slices_splitting_the_axis"] = r => Check(x => Binary(Op.Add, Binary(Op.Mul, Exp(Slice(x[0], 1, 0, 2)), Slice(x[0], 1, 2, 4)), Unary(Op.Tanh, Slice(x[0], 1, 4, 6))), Random(r, [3, 6], -1, 1)),
        ["slices_with_a_gap_and_an_overlap"] = r => Check(x => Binary(Op.Add, Binary(Op.Mul, Exp(Slice(x[0], 1, 0, 2)), Slice(x[0], 1, 3, 5)), Unary(Op.Tanh, Slice(x[0], 1, 4, 6))), Random(r, [3, 7], -1, 1)),
        ["slice_scatter"] = r => Check(x => Exp(SliceScatter(x[0], x[1], 1, 1, 2)), Random(r, [2, 6], -1, 1), Random(r, [2, 3], -1, 1)),

        // ---- composites
        ["softmax"] = r => Check(x => Softmax(x[0], 1), Random(r, Dims(r, 3), -2, 2)),
        ["log_softmax"] = r => Check(x => LogSoftmax(x[0], -1), Random(r, Dims(r, 2), -2, 2)),
        ["layer_norm"] = r => Check(x => LayerNorm(x[0], x[1], x[2], 1e-5), Random(r, [2, 3, 5], -1, 1), Random(r, [5], 0.5, 1.5), Random(r, [5], -1, 1)),
        ["layer_norm_two_dims"] = r => Check(x => LayerNorm(x[0], null, null, 1e-5, 2), Random(r, [2, 3, 4], -1, 1)),
        ["layer_norm_rank2_no_affine"] = r => Check(x => LayerNorm(x[0], null, null, 1e-5), Random(r, [4, 6], -1, 1)),
        ["layer_norm_weight_only"] = r => Check(x => LayerNorm(x[0], x[1], null, 1e-5), Random(r, [3, 5], -1, 1), Random(r, [5], 0.5, 1.5)),
        ["layer_norm_bias_only"] = r => Check(x => LayerNorm(x[0], null, x[1], 1e-5), Random(r, [2, 3, 5], -1, 1), Random(r, [5], -1, 1)),
        // An eps comparable to the variance: the gradient is not that of the exact standardization.
        ["layer_norm_large_eps"] = r => Check(x => LayerNorm(x[0], x[1], x[2], 0.3), Random(r, [3, 4], -0.5, 0.5), Random(r, [4], 0.5, 1.5), Random(r, [4], -1, 1)),
        ["layer_norm_two_dims_affine"] = r => Check(x => LayerNorm(x[0], x[1], x[2], 1e-4, 2), Random(r, [2, 3, 4], -1, 1), Random(r, [3, 4], 0.5, 1.5), Random(r, [3, 4], -1, 1)),
        ["layer_norm_permuted_input"] = r => Check(x => LayerNorm(Permute(x[0], 1, 2, 0), x[1], x[2], 1e-5), Random(r, [5, 2, 3], -1, 1), Random(r, [5], 0.5, 1.5), Random(r, [5], -1, 1)),
        // A weight broadcast from one element, a bias read with a stride.
        ["layer_norm_broadcast_weight"] = r => Check(x => LayerNorm(x[0], Expand(x[1], Shape.Of(5)), Slice(x[2], 0, 1, null, 2), 1e-5), Random(r, [3, 2, 5], -1, 1), Random(r, [1], 0.5, 1.5), Random(r, [10], -1, 1)),
        ["layer_norm_weight_is_bias"] = r => Check(x => LayerNorm(x[0], x[1], x[1], 1e-5), Random(r, [3, 5], -1, 1), Random(r, [5], 0.5, 1.5)),
        // The weight is a constant: only x and the bias receive gradients.
        ["layer_norm_constant_weight"] = r => Check(x => LayerNorm(x[0], Constant(Random(r, [5], 0.5, 1.5)), x[1], 1e-5), Random(r, [3, 5], -1, 1), Random(r, [5], -1, 1)),
        ["rms_norm"] = r => Check(x => RmsNorm(x[0], x[1], 1e-6), Random(r, [3, 6], -1, 1), Random(r, [6], 0.5, 1.5)),
        ["rms_norm_rank3_no_weight"] = r => Check(x => RmsNorm(x[0], null, 1e-6), Random(r, [2, 3, 5], -1, 1)),
        ["rms_norm_large_eps"] = r => Check(x => RmsNorm(x[0], x[1], 0.2), Random(r, [3, 4], -0.5, 0.5), Random(r, [4], 0.5, 1.5)),
        ["rms_norm_permuted_input"] = r => Check(x => RmsNorm(Transpose(x[0], 0, 2), x[1], 1e-6), Random(r, [5, 3, 2], -1, 1), Random(r, [5], 0.5, 1.5)),
        ["rms_norm_broadcast_weight"] = r => Check(x => RmsNorm(x[0], Expand(x[1], Shape.Of(6)), 1e-6), Random(r, [2, 6], -1, 1), Random(r, [1], 0.5, 1.5)),
        ["rms_norm_constant_weight"] = r => Check(x => RmsNorm(x[0], Constant(Random(r, [6], 0.5, 1.5)), 1e-6), Random(r, [3, 6], -1, 1)),
        ["group_norm"] = r => Check(x => GroupNorm(x[0], 2, x[1], x[2], 1e-5), Random(r, [2, 4, 3], -1, 1), Random(r, [4], 0.5, 1.5), Random(r, [4], -1, 1)),
        ["rope_halves"] = r => Check(x => Rope(x[0], x[1], x[2], false), Random(r, [2, 3, 4], -1, 1), Random(r, [3, 2], -1, 1), Random(r, [3, 2], -1, 1)),
        ["rope_interleaved"] = r => Check(x => Rope(x[0], x[1], x[2], true), Random(r, [2, 3, 4], -1, 1), Random(r, [3, 2], -1, 1), Random(r, [3, 2], -1, 1)),
        ["attention_causal_gqa"] = r => Check(x => Attention(x[0], x[1], x[2], causal: true), Random(r, [1, 4, 3, 2], -1, 1), Random(r, [1, 2, 3, 2], -1, 1), Random(r, [1, 2, 3, 2], -1, 1)),
        ["attention_bool_mask"] = r => Check(
            x => Attention(x[0], x[1], x[2], x[3]),
            Random(r, [2, 1, 2, 3], -1, 1),
            Random(r, [2, 1, 4, 3], -1, 1),
            Random(r, [2, 1, 4, 3], -1, 1),
            HostTensor.FromArray(new[] { true, false, true, true, true, true, false, true }, 2, 1, 1, 4)),
        ["attention_float_mask"] = r => Check(x => Attention(x[0], x[1], x[2], x[3], scale: 0.7), Random(r, [1, 2, 3, 2], -1, 1), Random(r, [1, 2, 3, 2], -1, 1), Random(r, [1, 2, 3, 2], -1, 1), Random(r, [3, 3], -1, 1)),
        // q, k, v as transposed views: the decomposition's kᵀ folds into one permute of k's input.
        ["attention_transposed_inputs"] = r => Check(
            x => Attention(Transpose(x[0], 1, 2), Transpose(x[1], 1, 2), Transpose(x[2], 1, 2), causal: true),
            Random(r, [1, 3, 2, 2], -1, 1),
            Random(r, [1, 3, 2, 2], -1, 1),
            Random(r, [1, 3, 2, 2], -1, 1)),
        ["conv1d_stride_pad_dilation"] = r => Check(x => Conv(x[0], x[1], x[2], [2], [2], [2], 1), Random(r, [2, 2, 7], -1, 1), Random(r, [3, 2, 3], -1, 1), Random(r, [3], -1, 1)),
        ["conv2d_groups"] = r => Check(x => Conv(x[0], x[1], null, [1, 2], [1, 0], [1, 1], 2), Random(r, [1, 4, 4, 5], -1, 1), Random(r, [2, 2, 2, 3], -1, 1)),
        ["conv_transpose1d"] = r => Check(x => ConvTranspose(x[0], x[1], x[2], [2], [1], [1], [1], 1), Random(r, [1, 2, 4], -1, 1), Random(r, [2, 3, 3], -1, 1), Random(r, [3], -1, 1)),
        ["conv_transpose2d_groups_dilation"] = r => Check(x => ConvTranspose(x[0], x[1], null, [2, 1], [0, 1], [0, 0], [1, 2], 2), Random(r, [1, 4, 2, 3], -1, 1), Random(r, [4, 1, 2, 2], -1, 1)),
        ["max_pool2d"] = r => Check(x => Pool(Op.MaxPool, x[0], [2, 2], [2, 1], [1, 0]), Random(r, [1, 2, 4, 3], -1, 1)),
        ["avg_pool1d_count_pad"] = r => Check(x => Pool(Op.AvgPool, x[0], [3], [2], [1]), Random(r, [2, 2, 6], -1, 1)),
        ["avg_pool2d_exclude_pad"] = r => Check(x => Pool(Op.AvgPool, x[0], [2, 2], [1, 1], [1, 1], countIncludePad: false), Random(r, [1, 1, 3, 3], -1, 1)),
        ["upsample_nearest"] = r => Check(x => Exp(UpsampleNearest(x[0], 2, 3)), Random(r, [1, 2, 2, 2], -1, 1)),
        // Quantized products take float32 activations: the check runs in float32 with its tolerances.
        ["quant_matmul"] = r => Check(x => Cast(QuantMatMul(Cast(x[0], DType.F32), QuantConstant(QuantizedQ8_0(r, 3, 32))), DType.F64), 1e-3, 1e-2, Random(r, [2, 32], -1, 1)),
        ["cast_f32"] = r => Check(x => Cast(Exp(x[0]), DType.F64), 1e-3, 1e-2, HostTensor.FromArray(new[] { 0.5f, -1f, 0.25f }, 3)),
    };

    public static TheoryData<string> Names => [.. Cases.Keys];

    private static Candle.Runtime.Kernels.Quant.QuantizedTensor QuantizedQ8_0(Random r, int rows, int cols)
    {
        var values = new float[rows * cols];
        for (int i = 0; i < values.Length; i++) values[i] = (float)((r.NextDouble() * 2) - 1);
        var bytes = new byte[Candle.Runtime.Kernels.Quant.GgmlTypeTraits.ByteCount(Candle.Runtime.Kernels.Quant.GgmlType.Q8_0, values.Length)];
        Candle.Runtime.Kernels.Quant.GgmlTypeTraits.Quantize(Candle.Runtime.Kernels.Quant.GgmlType.Q8_0, values, bytes);
        return new(Candle.Runtime.Kernels.Quant.GgmlType.Q8_0, rows, cols, bytes, "w");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void RuleMatchesFiniteDifferences(string name) => Cases[name](new Random(name.Length * 7919));

    [Fact]
    public void EveryOpHasARuleOrSaysItHasNone()
    {
        foreach (var op in Enum.GetValues<Op>())
        {
            Assert.True(VjpTable.HasEntry(op), $"{op} has no vector-Jacobian entry");
        }
    }

    [Fact]
    public void EveryFloatOpInTheTableIsChecked()
    {
        var checkedOps = Cases.Keys.Select(k => k.Split('_')[0]).ToHashSet();
        foreach (var op in Enum.GetValues<Op>().Where(VjpTable.IsDifferentiable).Where(o => o != Op.Fused))
        {
            string name = op.Name().Split('_')[0];
            Assert.True(checkedOps.Contains(name) || checkedOps.Contains(op.Name()), $"{op.Name()} has a rule but no gradient check");
        }
    }

    [Fact]
    public void IntegerInputsAreNotDifferentiable()
    {
        var x = Input("ids", DType.I64, Shape.Of(3));
        var e = Constant(HostTensor.FromArray(new[] { 1.0f, 2, 3, 4 }, 4, 1));
        var loss = Reduce(Op.Sum, IndexSelect(e, 0, x));
        Assert.Throws<ArgumentException>(() => ReverseMode.Gradients(loss, [x]));
    }

    [Fact]
    public void UnreachedNodesGetZeros()
    {
        var a = Input("a", DType.F64, Shape.Of(2));
        var b = Input("b", DType.F64, Shape.Of(3));
        var grads = ReverseMode.Gradients(Reduce(Op.Sum, Exp(a)), [b]);
        Assert.Equal(Op.Full, grads[0].Op);
        Assert.Equal(b.Shape, grads[0].Shape);
    }

    [Fact]
    public void SlicesSplittingATensorGetTheirGradientsConcatenated()
    {
        // q, k and v of a fused projection, sliced in either order of use: one concatenation, no zeros filled and
        // scattered into; a split that leaves a gap keeps one slice_scatter into zeros for the covered range.
        var x = Input("x", DType.F64, Shape.Of(2, 9));
        var (q, k, v) = (Slice(x, 1, 0, 3), Slice(x, 1, 3, 6), Slice(x, 1, 6, 9));
        foreach (var loss in new[] { Reduce(Op.Sum, Binary(Op.Mul, Exp(q), Binary(Op.Add, k, v))), Reduce(Op.Sum, Binary(Op.Mul, Exp(v), Binary(Op.Add, q, k))) })
        {
            var g = ReverseMode.Gradients(loss, [x])[0];
            Assert.Equal(Op.Concat, g.Op);
            Assert.Equal(3, g.Inputs.Length);
            Assert.DoesNotContain(Nodes(g), n => n.Op == Op.SliceScatter || (n.Op == Op.Full && n.Shape.Equals(x.Shape)));
        }

        var gap = ReverseMode.Gradients(Reduce(Op.Sum, Binary(Op.Mul, Exp(Slice(x, 1, 1, 4)), Slice(x, 1, 4, 7))), [x])[0];
        Assert.Equal(Op.SliceScatter, gap.Op);
        Assert.Single(Nodes(gap), n => n.Op == Op.SliceScatter);
    }

    private static IEnumerable<Node> Nodes(Node root)
    {
        var seen = new HashSet<Node>();
        var stack = new Stack<Node>([root]);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (!seen.Add(n)) continue;
            yield return n;
            foreach (var i in n.Inputs) stack.Push(i);
        }
    }

    private static Node Exp(Node x) => Unary(Op.Exp, x);

    private static int[] Dims(Random r, int rank) => [.. Enumerable.Range(0, rank).Select(_ => r.Next(2, 5))];

    private static void Unary1(Random r, Op op, double lo, double hi, bool negate = false)
    {
        var x = Random(r, Dims(r, 2), lo, hi);
        if (negate)
        {
            for (long i = 0; i < x.ShapeArray().Aggregate(1L, (p, d) => p * d); i += 2) x.SetDouble(i, -x.GetDouble(i));
        }

        // Through a transposed view, so the rule also sees a strided operand.
        Check(n => Unary(op, Transpose(n[0], 0, 1)), x);
    }

    private static void Binary2(Random r, Op op, double lo = -1, double hi = 1)
    {
        int a = r.Next(2, 4), b = r.Next(2, 4), c = r.Next(2, 4);
        Check(x => Binary(op, x[0], x[1]), Random(r, [a, 1, c], lo, hi), Random(r, [b, c], lo, hi));
        Check(x => Binary(op, x[0], x[1]), Random(r, [a, b], lo, hi), Random(r, [a, b], lo, hi));
    }
}
