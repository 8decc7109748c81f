using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Compiler.Tests.Cpu;
using Candle.Runtime;
using Candle.Runtime.Randomness;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Randomness;

/// <summary>
/// random_uniform: Philox-4x32-10 against Random123's published known-answer vectors, the element mapping against a
/// scalar implementation written here, the compiled CPU plan against the reference interpreter bit for bit (threads,
/// opt levels, symbolic shapes), the distribution within binomial bounds, and the typing errors.
/// </summary>
public sealed class RandomUniformTests
{
    /// <summary>Random123's kat_vectors for philox4x32 with 10 rounds: counter, key, output.</summary>
    public static TheoryData<uint[], uint[], uint[]> KnownAnswers => new()
    {
        { [0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8] },
        { [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd] },
        { [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1] },
    };

    /// <summary>Philox-4x32-10 as the paper writes it, over arrays (the oracle of the mapping below).</summary>
    private static uint[] ScalarPhilox(uint[] counter, uint[] key)
    {
        var x = (uint[])counter.Clone();
        uint k0 = key[0], k1 = key[1];
        for (int r = 0; r < 10; r++)
        {
            ulong a = 0xD2511F53UL * x[0], b = 0xCD9E8D57UL * x[2];
            x = [(uint)(b >> 32) ^ x[1] ^ k0, unchecked((uint)b), (uint)(a >> 32) ^ x[3] ^ k1, unchecked((uint)a)];
            k0 = unchecked(k0 + 0x9E3779B9);
            k1 = unchecked(k1 + 0xBB67AE85);
        }

        return x;
    }

    /// <summary>The documented mapping: key = seed, counter = (index / 4, stream), word index mod 4, top 24 bits / 2²⁴.</summary>
    private static float Expected(long seed, long stream, long index)
    {
        ulong s = unchecked((ulong)seed), t = unchecked((ulong)stream), q = unchecked((ulong)index) / 4;
        var words = ScalarPhilox([(uint)q, (uint)(q >> 32), (uint)t, (uint)(t >> 32)], [(uint)s, (uint)(s >> 32)]);
        return (float)((words[index % 4] >> 8) / 16777216.0);
    }

    private static HostTensor Seed(long value)
    {
        var t = HostTensor.Zeros(DType.I64);
        t.SetInt64(0, value);
        return t;
    }

    [Theory]
    [MemberData(nameof(KnownAnswers))]
    public void Philox_matches_the_published_known_answers(uint[] counter, uint[] key, uint[] expected)
    {
        var (x0, x1, x2, x3) = Philox4x32.Block(counter[0], counter[1], counter[2], counter[3], key[0], key[1]);
        Assert.Equal(expected, new[] { x0, x1, x2, x3 });
        Assert.Equal(expected, ScalarPhilox(counter, key));
    }

    [Theory]
    [InlineData(0L, 0L)]
    [InlineData(1L, 7L)]
    [InlineData(-1L, long.MaxValue)]
    [InlineData(0x0123456789ABCDEFL, 1L << 40)]
    public void Each_element_follows_the_documented_mapping(long seed, long stream)
    {
        long[] indices = [0, 1, 2, 3, 4, 5, 11, 1023, (1L << 32) - 1, 1L << 32, (1L << 34) + 3, long.MaxValue];
        foreach (long i in indices) Assert.Equal(Expected(seed, stream, i), Philox4x32.Uniform(seed, stream, i));

        // A fill from an offset that is not a multiple of four writes the same elements as one at a time.
        var span = new float[13];
        Philox4x32.FillUniform(span, seed, stream, 6);
        for (int j = 0; j < span.Length; j++) Assert.Equal(Expected(seed, stream, 6 + j), span[j]);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 1)]
    [InlineData(1_000_003, 1)]
    [InlineData(1_000_003, 2)]
    public void The_cpu_plan_equals_the_interpreter_bit_for_bit(int n, int threads)
    {
        var seed = Input("rng.seed", DType.I64, Shape.Scalar);
        var g = new Graph([seed], [RandomUniform(seed, Shape.Of(n), stream: 5)], ["u"]);
        var inputs = new[] { Seed(20261207) };
        var actual = CpuHarness.CheckAgainstReference(g, inputs, 0, 0, threads: threads)[0].ToFloat32();
        foreach (int i in new[] { 0, n / 3, n - 1 }) Assert.Equal(Expected(20261207, 5, i), actual[i]);
    }

    [Fact]
    public void A_symbolic_shape_draws_the_prefix_of_the_same_stream()
    {
        var b = Dim.Sym("b");
        var seed = Input("rng.seed", DType.I64, Shape.Scalar);
        var x = Input("x", DType.F32, new Shape(b, 6));
        var u = RandomUniform(seed, x.Shape, stream: 2);
        var g = new Graph([seed, x], [Binary(Op.Mul, x, u)], ["y"]);
        var xs = HostTensor.FromArray(Enumerable.Range(0, 30).Select(i => 1f + i).ToArray(), 5, 6);
        var y = CpuHarness.CheckAgainstReference(g, [Seed(99), xs], 0, 0)[0].ToFloat32();
        for (int i = 0; i < 30; i++) Assert.Equal((1f + i) * Expected(99, 2, i), y[i]);
    }

    [Fact]
    public void A_saved_plan_draws_the_same_numbers_after_loading()
    {
        var seed = Input("rng.seed", DType.I64, Shape.Scalar);
        var x = Input("x", DType.F32, new Shape(Dim.Sym("n")));
        var g = new Graph([x, seed], [Where(Binary(Op.Ge, RandomUniform(seed, x.Shape, 1), Scalar(0.5, DType.F32)), Binary(Op.Mul, x, 2.0), Scalar(0, DType.F32))], ["y"]);
        using var plan = CandleCompiler.Compile(g);
        string path = Path.Combine(Path.GetTempPath(), $"random-uniform-{Guid.NewGuid():N}.plan");
        try
        {
            plan.Save(path);
            using var loaded = Runtime.Plans.Plan.Load(path);
            HostTensor[] inputs = [HostTensor.FromArray(Enumerable.Range(1, 41).Select(i => (float)i).ToArray(), 41), Seed(-5)];
            var expected = ReferenceInterpreter.Run(g, inputs)[0].ToFloat32();
            Assert.Equal(expected, loaded.Run(inputs)[0].ToFloat32());
            Assert.Equal(expected, plan.Run(inputs)[0].ToFloat32());
            for (int i = 0; i < 41; i++) Assert.Equal(Expected(-5, 1, i) >= 0.5f ? 2f * (i + 1) : 0f, expected[i]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_million_draws_are_uniform_within_binomial_bounds()
    {
        const int N = 1 << 20;
        var seed = Input("rng.seed", DType.I64, Shape.Scalar);
        using var plan = CpuHarness.Compile(new Graph([seed], [RandomUniform(seed, Shape.Of(N))], ["u"]));
        var u = plan.Run([Seed(3)])[0].ToFloat32();
        Assert.All(u, v => Assert.InRange(v, 0f, 0.99999995f));

        // Mean: variance 1/12 per draw; 6 standard deviations.
        double mean = u.Average(v => (double)v);
        Assert.InRange(mean, 0.5 - (6 * Math.Sqrt(1.0 / 12 / N)), 0.5 + (6 * Math.Sqrt(1.0 / 12 / N)));

        // Each tenth of [0, 1) holds a binomial(N, 0.1) count: within 6 standard deviations of N/10.
        var bins = new int[10];
        foreach (float v in u) bins[(int)(v * 10)]++;
        double sd = Math.Sqrt(N * 0.1 * 0.9);
        Assert.All(bins, c => Assert.InRange(c, (N * 0.1) - (6 * sd), (N * 0.1) + (6 * sd)));
    }

    [Fact]
    public void Seeds_and_streams_give_different_draws_and_the_same_ones_again()
    {
        var seed = Input("rng.seed", DType.I64, Shape.Scalar);
        var g = new Graph([seed], [RandomUniform(seed, Shape.Of(256), 0), RandomUniform(seed, Shape.Of(256), 1)], ["a", "b"]);
        using var plan = CpuHarness.Compile(g);
        var r1 = plan.Run([Seed(1)]).Select(t => t.ToFloat32()).ToArray();
        var r1Again = plan.Run([Seed(1)]).Select(t => t.ToFloat32()).ToArray();
        var r2 = plan.Run([Seed(2)]).Select(t => t.ToFloat32()).ToArray();
        Assert.Equal(r1[0], r1Again[0]);
        Assert.Equal(r1[1], r1Again[1]);

        // Two independent draws of 256 floats agree in a position with probability 2⁻²⁴ each.
        Assert.True(r1[0].Zip(r1[1]).Count(p => p.First == p.Second) <= 1);
        Assert.True(r1[0].Zip(r2[0]).Count(p => p.First == p.Second) <= 1);
    }

    [Fact]
    public void A_seed_that_is_not_an_int64_scalar_is_refused_naming_the_op()
    {
        var e = Assert.Throws<IrException>(() => RandomUniform(Input("s", DType.I32, Shape.Scalar), Shape.Of(4)));
        Assert.Contains("random_uniform", e.Message, StringComparison.Ordinal);
        Assert.Contains("int64 scalar", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<IrException>(() => RandomUniform(Input("s", DType.I64, Shape.Of(1)), Shape.Of(4)));
        Assert.Contains("random_uniform", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_op_has_no_gradient_and_folds_to_its_values_for_a_constant_seed()
    {
        var s = Constant(Seed(11));
        var u = RandomUniform(s, Shape.Of(9), 4);
        var folded = new Candle.Compiler.Passes.ConstantFolding().Fold(u);
        Assert.NotNull(folded);
        var values = ReferenceInterpreter.Evaluate(folded!).ToFloat32();
        for (int i = 0; i < 9; i++) Assert.Equal(Expected(11, 4, i), values[i]);

        var x = Input("x", DType.F32, Shape.Of(9));
        var grads = Candle.Compiler.Autodiff.ReverseMode.Gradients(Reduce(Op.Sum, Binary(Op.Mul, x, u)), [x]);
        var g = ReferenceInterpreter.Run(new Graph([x], [grads[0]]), [HostTensor.FromArray(new float[9], 9)])[0].ToFloat32();
        for (int i = 0; i < 9; i++) Assert.Equal(Expected(11, 4, i), g[i]);
    }
}
