using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Passes;

/// <summary>A Llama-style decoder block written with primitives, as traced PyTorch code would produce it.</summary>
internal static class TransformerBlock
{
    public const int Seq = 6, Dim = 16, Heads = 2, HeadDim = 8, Hidden = 32;

    public static Graph Build(int seed = 7)
    {
        var rng = new Random(seed);
        Node W(string name, int rows, int cols)
        {
            var data = new float[rows * cols];
            for (int i = 0; i < data.Length; i++) data[i] = (float)(((rng.NextDouble() * 2) - 1) / Math.Sqrt(cols));
            return Constant(HostTensor.FromArray(data, rows, cols), name);
        }

        var x = Input("x", DType.F32, Shape.Of(1, Seq, Dim));
        var freqs = Input("freqs", DType.F32, Shape.Of(Seq, HeadDim / 2));
        var mask = Input("mask", DType.F32, Shape.Of(Seq, Seq));
        var h = RmsNorm(x, W("attn_norm", 1, Dim), 1e-6);
        Node Heads4(Node t) => Transpose(Reshape(t, 1, Seq, Heads, HeadDim), 1, 2);
        var q = Heads4(Linear(h, W("wq", Dim, Dim)));
        var k = Heads4(Linear(h, W("wk", Dim, Dim)));
        var v = Heads4(Linear(h, W("wv", Dim, Dim)));
        var emb = Concat([freqs, freqs], -1);
        var cos = Unary(Op.Cos, emb);
        var sin = Unary(Op.Sin, emb);
        q = Rope(q, cos, sin);
        k = Rope(k, cos, sin);
        var scores = Binary(Op.Add, Binary(Op.Div, MatMul(q, Transpose(k, -2, -1)), Math.Sqrt(HeadDim)), mask);
        var e = Unary(Op.Exp, Binary(Op.Sub, scores, Reduce(Op.Max, scores, [-1], keepDim: true)));
        var p = Binary(Op.Div, e, Reduce(Op.Sum, e, [-1], keepDim: true));
        var att = Reshape(Transpose(MatMul(p, v), 1, 2), 1, Seq, Dim);
        var x2 = Binary(Op.Add, x, Linear(att, W("wo", Dim, Dim)));
        var h2 = RmsNorm(x2, W("ffn_norm", 1, Dim), 1e-6);
        var gate = Linear(h2, W("w1", Hidden, Dim));
        var up = Linear(h2, W("w3", Hidden, Dim));
        var act = Binary(Op.Mul, Binary(Op.Mul, gate, Unary(Op.Sigmoid, gate)), up);
        var y = Binary(Op.Add, x2, Linear(act, W("w2", Dim, Hidden)));
        return new Graph([x, freqs, mask], [y], ["y"]);
    }

    private static Node RmsNorm(Node x, Node w, double eps)
    {
        var variance = Reduce(Op.Mean, Binary(Op.Pow, x, 2.0), [-1], keepDim: true);
        var n = Binary(Op.Mul, x, Unary(Op.Rsqrt, Binary(Op.Add, variance, eps)));
        return Binary(Op.Mul, Reshape(w, -1), n);
    }

    private static Node Rope(Node t, Node cos, Node sin)
    {
        var x1 = Slice(t, -1, 0, HeadDim / 2);
        var x2 = Slice(t, -1, HeadDim / 2, null);
        var rot = Concat([Unary(Op.Neg, x2), x1], -1);
        return Binary(Op.Add, Binary(Op.Mul, t, cos), Binary(Op.Mul, rot, sin));
    }
}
