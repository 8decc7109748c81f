using CsCheck;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Passes;

/// <summary>Random DAGs of elementwise, reduce, movement, matmul and composite ops over random static shapes.</summary>
internal static class RandomGraphs
{
    public static readonly Gen<Graph> Gen = CsCheck.Gen.Select(CsCheck.Gen.Int[1, 5], CsCheck.Gen.Int[1, 6], CsCheck.Gen.Int[0, int.MaxValue].Array[1, 16], CsCheck.Gen.Int[0, 1000])
        .Select(t => Build(t.Item1, t.Item2, t.Item3, t.Item4));

    private static readonly Op[] Unaries = [Op.Neg, Op.Abs, Op.Tanh, Op.Sigmoid, Op.Relu, Op.Sin, Op.Cos, Op.Gelu, Op.Silu];
    private static readonly Op[] Binaries = [Op.Add, Op.Sub, Op.Mul, Op.Maximum, Op.Minimum];

    public static Graph Build(int a, int b, int[] codes, int seed)
    {
        var rng = new Random(seed);
        var x = Input("x", DType.F32, Shape.Of(a, b));
        var y = Input("y", DType.F32, Shape.Of(a, b));
        var wData = new float[b * b];
        for (int i = 0; i < wData.Length; i++) wData[i] = (float)((rng.NextDouble() * 2) - 1);
        var w = Constant(HostTensor.FromArray(wData, b, b), "w");
        var pool = new List<Node> { x, y };
        Node Pick(int c) => pool[(c >>> 8) % pool.Count];
        foreach (int c in codes)
        {
            var p = Pick(c);
            var q = pool[(c >>> 16) % pool.Count];
            Node n = (c % 13) switch
            {
                0 => Unary(Unaries[(c >>> 4) % Unaries.Length], p),
                1 => Binary(Binaries[(c >>> 4) % Binaries.Length], p, q),
                2 => ((c >>> 4) % 6) switch
                {
                    0 => Binary(Op.Add, p, 0.0),
                    1 => Binary(Op.Mul, p, 1.0),
                    2 => Binary(Op.Mul, p, 2.0),
                    3 => Binary(Op.Sub, p, 0.0),
                    4 => Binary(Op.Div, p, 4.0),
                    _ => Binary(Op.Pow, p, 2.0),
                },
                3 => Binary(Binaries[(c >>> 4) % Binaries.Length], q, Reduce((c >>> 6) % 2 == 0 ? Op.Sum : Op.Max, p, [-1], keepDim: true)),
                4 => Binary(Op.Mul, MatMul(p, w), 0.25),
                5 => Linear(p, w, (c >>> 4) % 2 == 0 ? null : y),
                6 => Transpose(Unary(Op.Tanh, Transpose(p, 0, 1)), 0, 1),
                7 => Reshape(Reshape(p, a * b), a, b),
                8 => Softmax(p, (c >>> 4) % 2),
                9 => Cast(Cast(p, DType.F64), DType.F32),
                10 => (c >>> 4) % 2 == 0 ? Binary(Op.Add, Binary(Op.Sub, p, p), q) : Unary(Op.Neg, Unary(Op.Neg, p)),
                11 => Where(Binary(Op.Gt, p, q), p, q),
                _ => Binary(Op.Add, Binary(Op.Mul, p, Binary(Op.Add, Full(1, DType.F32, Shape.Scalar), Full(1, DType.F32, Shape.Scalar))), Unary(Op.Exp, Unary(Op.Tanh, q))),
            };
            pool.Add(n);
        }

        var outs = new List<Node> { pool[^1] };
        if (pool.Count > 3) outs.Add(pool[^2]);
        return new Graph([x, y], outs);
    }
}
