using Candle.Compiler;
using Candle.Compiler.Autodiff;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Randomness;
using Candle.Runtime.Tensors;
using Candle.Torch.Nn;

namespace Candle.Torch.Tests;

/// <summary>
/// Dropout in training mode: element i of draw k under seed s is kept where Philox's uniform (s, k, i) ≥ p (the
/// generator itself is checked against Random123's vectors in the compiler's tests), kept values are scaled by
/// 1/(1 − p); eager and traced (reference interpreter and CPU plan) agree bit for bit; Train()/Eval() switch it; the
/// keep fraction is binomial; the gradient is the mask over 1 − p. The tests that use the process's default generator
/// are in this class, which xunit runs sequentially.
/// </summary>
public sealed class DropoutTests
{
    private static HostTensor Seed(long value)
    {
        var t = HostTensor.Zeros(DType.I64);
        t.SetInt64(0, value);
        return t;
    }

    /// <summary>The definition, element by element in float32.</summary>
    private static float[] Expected(float[] x, double p, long seed, long stream)
    {
        float scale = (float)(1 / (1 - p)), threshold = (float)p;
        return [.. x.Select((v, i) => Philox4x32.Uniform(seed, stream, i) >= threshold ? v * scale : 0f)];
    }

    /// <summary>Dropout, relu, dropout: two draws of one shape, elementwise only, so every backend computes it exactly.</summary>
    private sealed class TwoDropouts : Module<Tensor, Tensor>
    {
        public TwoDropouts()
        {
            First = RegisterModule("first", new Dropout(0.5));
            Second = RegisterModule("second", new Dropout(0.25));
        }

        public Dropout First { get; }

        public Dropout Second { get; }

        public override Tensor Forward(Tensor input) => Second.Forward(F.Relu(First.Forward(input)));
    }

    [Fact]
    public void Eval_mode_and_p_zero_are_the_identity_and_p_one_gives_zeros()
    {
        var x = Tensor.FromArray(Check.Rand(12, 1), 3, 4);
        Assert.Same(x, F.Dropout(x, 0.3));
        Assert.Same(x, F.Dropout(x, 0, training: true, new Generator(1)));
        Assert.Same(x, new Dropout(0.3).Forward(x));
        var zeros = F.Dropout(x, 1, training: true, new Generator(1));
        Check.Shape(zeros, 3, 4);
        Assert.All(zeros.ToFloatArray(), v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void A_probability_outside_the_unit_interval_is_refused(double p)
    {
        var x = Tensor.FromArray(Check.Rand(4, 1), 4);
        Assert.Contains("dropout", Assert.Throws<ArgumentOutOfRangeException>(() => F.Dropout(x, p, training: true)).Message, StringComparison.Ordinal);
        Assert.Contains("Dropout", Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout(p)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_integer_input_in_training_is_refused_naming_dropout()
    {
        var ids = Tensor.FromArray([1L, 2L, 3L], 3);
        var e = Assert.Throws<ArgumentException>(() => F.Dropout(ids, 0.5, training: true, new Generator(1)));
        Assert.Contains("dropout", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Training_dropout_follows_its_definition_and_each_draw_takes_the_next_stream()
    {
        var xs = Check.Rand(37 * 29, 5);
        var x = Tensor.FromArray(xs, 37, 29);
        var gen = new Generator(123);
        Assert.Equal(123, gen.InitialSeed);
        var first = F.Dropout(x, 0.3, training: true, gen).ToFloatArray();
        var second = F.Dropout(x, 0.3, training: true, gen).ToFloatArray();
        Assert.Equal(2, gen.Draws);
        Assert.Equal(Expected(xs, 0.3, 123, 0), first);
        Assert.Equal(Expected(xs, 0.3, 123, 1), second);
        Assert.NotEqual(first, second);

        // Same seed, same mask; another seed, another mask; reseeding starts the draws again.
        Assert.Equal(first, F.Dropout(x, 0.3, training: true, new Generator(123)).ToFloatArray());
        Assert.NotEqual(first, F.Dropout(x, 0.3, training: true, new Generator(124)).ToFloatArray());
        Assert.Equal(first, F.Dropout(x, 0.3, training: true, gen.ManualSeed(123)).ToFloatArray());
    }

    [Fact]
    public void The_keep_fraction_and_the_mean_are_within_binomial_bounds()
    {
        const int N = 1 << 20;
        const double P = 0.3;
        var y = F.Dropout(Tensors.Ones(N), P, training: true, new Generator(2026)).ToFloatArray();
        float scale = (float)(1 / (1 - P));
        Assert.All(y, v => Assert.True(v == 0f || v == scale, $"{v} is neither 0 nor {scale}"));

        // The kept count is binomial(N, 1 − p): within 6 standard deviations of its mean.
        int kept = y.Count(v => v != 0);
        double sd = Math.Sqrt(N * P * (1 - P));
        Assert.InRange(kept, (N * (1 - P)) - (6 * sd), (N * (1 - P)) + (6 * sd));

        // The mean of y is kept·scale/N, whose expectation is 1.
        double mean = y.Average(v => (double)v);
        Assert.InRange(mean, 1 - (6 * sd * scale / N), 1 + (6 * sd * scale / N));
    }

    [Fact]
    public void Train_and_eval_switch_the_module_and_its_children()
    {
        var model = new TwoDropouts();
        Assert.False(model.Training || model.First.Training || model.Second.Training);
        var x = Tensor.FromArray(Check.Rand(64, 3), 8, 8);
        var eval = model.Forward(x).ToFloatArray();
        Assert.Equal(F.Relu(x).ToFloatArray(), eval);

        Assert.Same(model, model.Train());
        Assert.True(model.Training && model.First.Training && model.Second.Training);
        Tensors.ManualSeed(5);
        var train = model.Forward(x).ToFloatArray();
        Assert.NotEqual(eval, train);
        Assert.Contains(train, v => v == 0f);

        Assert.Same(model, model.Eval());
        Assert.False(model.Training || model.First.Training || model.Second.Training);
        Assert.Equal(eval, model.Forward(x).ToFloatArray());
        model.Train();
        model.Train(false);
        Assert.False(model.Training || model.First.Training || model.Second.Training);
    }

    [Fact]
    public void Eager_after_manual_seed_equals_the_trace_run_with_that_seed()
    {
        var model = new TwoDropouts();
        model.Train();
        var xs = Check.Rand(6 * 50, 7);
        var x = Tensor.FromArray(xs, 6, 50);
        Assert.Same(Generator.Default, Tensors.ManualSeed(31));
        var eager = model.Forward(x).ToFloatArray();
        Assert.Equal(2, Generator.Default.Draws);

        // The definition: draw 0 of seed 31 for the first dropout, draw 1 for the second.
        Assert.Equal(Expected([.. Expected(xs, 0.5, 31, 0).Select(v => Math.Max(v, 0f))], 0.25, 31, 1), eager);

        var g = Tracer.Trace(model, new TraceInput("x", DType.F32, "batch", 50L));
        Assert.Equal(["x", Tracer.SeedInputName], g.Inputs.Select(i => i.Attr<InputAttrs>().Name).ToArray());
        Assert.Equal(2, g.Nodes.Count(n => n.Op == Op.RandomUniform));
        var inputs = new[] { x.ToHostTensor(), Seed(31) };
        Assert.Equal(eager, ReferenceInterpreter.Run(g, inputs)[0].ToFloat32());
        using var plan = CandleCompiler.Compile(g);
        Assert.Equal(eager, plan.Run(inputs)[0].ToFloat32());

        // A fresh seed per run without recompiling; eval mode traces no seed input.
        Tensors.ManualSeed(32);
        Assert.Equal(model.Forward(x).ToFloatArray(), plan.Run([x.ToHostTensor(), Seed(32)])[0].ToFloat32());
        Assert.NotEqual(eager, plan.Run([x.ToHostTensor(), Seed(32)])[0].ToFloat32());
        model.Eval();
        Assert.Single(Tracer.Trace(model, new TraceInput("x", DType.F32, "batch", 50L)).Inputs);
    }

    [Fact]
    public void A_declared_seed_input_is_used_and_a_generator_inside_a_trace_is_refused()
    {
        var g = Tracer.Trace(
            xs => [F.Dropout(xs[0], 0.4, training: true)],
            [new TraceInput("x", DType.F32, 10L), new TraceInput(Tracer.SeedInputName, DType.I64)],
            ["y"]);
        Assert.Equal(2, g.Inputs.Length);
        var xs = Check.Rand(10, 9);
        Assert.Equal(Expected(xs, 0.4, 8, 0), ReferenceInterpreter.Run(g, [HostTensor.FromArray(xs, 10), Seed(8)])[0].ToFloat32());

        var e = Assert.Throws<ArgumentException>(() => Tracer.Trace(xs => [F.Dropout(xs[0], 0.4, training: true)], [new TraceInput("x", DType.F32, 10L), new TraceInput(Tracer.SeedInputName, DType.I32)], null));
        Assert.Contains(Tracer.SeedInputName, e.Message, StringComparison.Ordinal);
        var refused = Assert.Throws<InvalidOperationException>(() => Tracer.Trace(xs => [F.Dropout(xs[0], 0.4, training: true, new Generator(1))], new TraceInput("x", DType.F32, 10L)));
        Assert.Contains(Tracer.SeedInputName, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_gradient_is_the_mask_over_one_minus_p_and_matches_finite_differences()
    {
        const int N = 40;
        const double P = 0.35;
        var c = Enumerable.Range(0, N).Select(i => 0.5 + (0.25 * (i % 7))).ToArray();
        Node? xNode = null, loss = null;
        var g = Tracer.Trace(
            xs =>
            {
                xNode = xs[0].Node;
                var y = F.Dropout(xs[0], P, training: true);
                var l = (y * Tensor.FromArray(c, N)).Sum();
                loss = l.Node;
                return [l];
            },
            new TraceInput("x", DType.F64, (long)N));
        var seedNode = g.Inputs[1];
        var grad = ReverseMode.Gradients(loss!, [xNode!])[0];
        var gg = new Graph([xNode!, seedNode], [grad, loss!]);

        // The backward reads the forward's draw: one random_uniform node in loss and gradient together.
        Assert.Single(gg.Nodes, n => n.Op == Op.RandomUniform);

        var x = Enumerable.Range(0, N).Select(i => Math.Sin(i)).ToArray();
        var seed = Seed(4242);
        var dx = ReferenceInterpreter.Run(gg, [HostTensor.FromArray(x, N), seed])[0].ToFloat64();
        double Loss(double[] v) => ReferenceInterpreter.Run(g, [HostTensor.FromArray(v, N), seed])[0].ToFloat64()[0];
        int zeros = 0;
        for (int i = 0; i < N; i++)
        {
            bool keep = Philox4x32.Uniform(4242, 0, i) >= (float)P;
            zeros += keep ? 0 : 1;
            Assert.Equal(keep ? c[i] / (1 - P) : 0, dx[i], 12);
            const double H = 1e-4;
            var plus = (double[])x.Clone();
            var minus = (double[])x.Clone();
            plus[i] += H;
            minus[i] -= H;
            Assert.Equal((Loss(plus) - Loss(minus)) / (2 * H), dx[i], 6);
        }

        Assert.InRange(zeros, 1, N - 1);
    }
}
