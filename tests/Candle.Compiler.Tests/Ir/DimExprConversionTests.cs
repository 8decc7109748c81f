using Candle.Compiler.Ir;
using Candle.Runtime.Plans;
using CsCheck;

namespace Candle.Compiler.Tests.Ir;

/// <summary>A Dim's runtime expression is built from its terms and evaluates like the Dim, before and after a text round trip.</summary>
public class DimExprConversionTests
{
    private static readonly Gen<Dim> Leaf = Gen.OneOf(Gen.Long[-6, 40].Select(Dim.Of), Gen.Int[0, 2].Select(i => Dim.Sym(new[] { "a", "b", "seq_len" }[i])));

    private static Gen<Dim> Expr(int depth) => depth == 0
        ? Leaf
        : Gen.OneOf(
            Leaf,
            Gen.Select(Expr(depth - 1), Expr(depth - 1)).Select((x, y) => x + y),
            Gen.Select(Expr(depth - 1), Expr(depth - 1)).Select((x, y) => x - y),
            Gen.Select(Expr(depth - 1), Leaf).Select((x, y) => x * y),
            Gen.Select(Expr(depth - 1), Gen.Long[1, 9]).Select((x, k) => x / k));

    [Fact]
    public void Evaluates_like_the_dim_and_reads_back_from_its_text()
    {
        Gen.Select(Expr(3), Gen.Long[-5, 50], Gen.Long[0, 50], Gen.Long[1, 70]).Sample((d, a, b, s) =>
        {
            var env = new Dictionary<string, long> { ["a"] = a, ["b"] = b, ["seq_len"] = s };
            var e = d.ToExpr();
            long want = d.Evaluate(env);
            Assert.Equal(want, e.Evaluate(env));
            Assert.Equal(want, DimExpr.Parse(e.Text).Evaluate(env));
            Assert.Equal(d.IsConstant, e.IsConstant);
            Assert.Equal(d.Symbols.Distinct().Order(StringComparer.Ordinal), e.Symbols);
        }, iter: 500);
    }

    [Fact]
    public void Symbol_names_are_checked()
    {
        Assert.Equal("kv", DimExpr.Sym("kv").Text);
        Assert.Throws<ArgumentException>(() => DimExpr.Sym("a+b"));
        Assert.Throws<ArgumentException>(() => DimExpr.Sym("1x"));
    }
}
