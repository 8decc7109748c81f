using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Passes;

internal static class CompositeGraphs
{
    public static IEnumerable<Graph> All()
    {
        var x = Input("x", DType.F32, Shape.Of(2, 3, 8));
        var w = Input("w", DType.F32, Shape.Of(8));
        var b = Input("b", DType.F32, Shape.Of(8));
        yield return new Graph([x], [Softmax(x, 1)]);
        yield return new Graph([x], [LogSoftmax(x, -1)]);
        yield return new Graph([x, w, b], [LayerNorm(x, w, b, 1e-5)]);
        yield return new Graph([x], [LayerNorm(x, null, null, 1e-5, 2)]);
        yield return new Graph([x, w], [RmsNorm(x, w, 1e-6)]);
        var c = Input("c", DType.F32, Shape.Of(3));
        yield return new Graph([x, c], [GroupNorm(x, 3, c, c, 1e-5)]);
        yield return new Graph([x], [Unary(Op.Gelu, x)]);
        yield return new Graph([x], [Unary(Op.GeluTanh, x)]);
        yield return new Graph([x], [Unary(Op.Silu, x)]);
        var cos = Input("cos", DType.F32, Shape.Of(3, 4));
        var sin = Input("sin", DType.F32, Shape.Of(3, 4));
        yield return new Graph([x, cos, sin], [Rope(x, cos, sin, interleaved: false)]);
        yield return new Graph([x, cos, sin], [Rope(x, cos, sin, interleaved: true)]);
        var q = Input("q", DType.F32, Shape.Of(1, 4, 3, 8));
        var k = Input("k", DType.F32, Shape.Of(1, 2, 5, 8));
        var v = Input("v", DType.F32, Shape.Of(1, 2, 5, 6));
        var m = Input("m", DType.F32, Shape.Of(3, 5));
        var keep = Input("keep", DType.Bool, Shape.Of(1, 1, 5, 5));
        yield return new Graph([q, k, v], [Attention(q, k, v)]);
        yield return new Graph([q, k, v], [Attention(q, k, v, causal: true)]);
        yield return new Graph([q, k, v, m], [Attention(q, k, v, m, causal: true, scale: 0.3)]);
        var q2 = Input("q", DType.F32, Shape.Of(1, 4, 5, 8));
        yield return new Graph([q2, k, v, keep], [Attention(q2, k, v, keep, causal: true)]);
    }
}
