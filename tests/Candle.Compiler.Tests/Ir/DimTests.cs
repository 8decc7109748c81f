using Candle.Compiler.Ir;

namespace Candle.Compiler.Tests.Ir;

public class DimTests
{
    [Fact]
    public void CanonicalFormMakesAlgebraicallyEqualDimsEqual()
    {
        var seq = Dim.Sym("seq");
        var batch = Dim.Sym("batch");
        Assert.Equal(seq, (seq + 1) - 1);
        Assert.Equal(seq * 2, seq + seq);
        Assert.Equal(batch * seq, seq * batch);
        Assert.Equal((seq + 1) * 2, (2 * seq) + 2);
        Assert.NotEqual(seq, batch);
        Assert.True(((seq * 4) + 8).IsDivisibleBy(4));
        Assert.Equal(seq + 2, ((seq * 4) + 8) / 4);
    }

    [Fact]
    public void EvaluatesWithBindings()
    {
        var seq = Dim.Sym("seq");
        var d = (((seq * 3) + 7) / 2) - 1;
        var env = new Dictionary<string, long> { ["seq"] = 5 };
        Assert.Equal(((5 * 3) + 7) / 2 - 1, d.Evaluate(env));
        Assert.Throws<KeyNotFoundException>(() => seq.Evaluate(new Dictionary<string, long>()));
    }

    [Fact]
    public void FloorDivisionRoundsTowardNegativeInfinity()
    {
        Assert.Equal(-2, (Dim.Of(-3) / 2).Value);
        Assert.Equal(1, (Dim.Of(3) / 2).Value);
    }
}
