using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Compiler.Tests.Passes;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using CsCheck;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>Whole graphs: an MLP and an attention block with symbolic lengths, pass-pipeline output with fused groups, concurrency, memory planning.</summary>
public class ModelTests
{
    internal static Node Weight(Random rng, string name, params int[] shape)
    {
        int n = shape.Aggregate(1, (a, d) => a * d);
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = (float)(((rng.NextDouble() * 2) - 1) / Math.Sqrt(shape[^1]));
        return Constant(HostTensor.FromArray(data, shape), name);
    }

    /// <summary>x[batch, seq, 16] → linear 32 → gelu → linear 16 → + x → layer_norm.</summary>
    internal static Graph Mlp(int seed = 1)
    {
        var rng = new Random(seed);
        var x = Input("x", DType.F32, new Shape(Dim.Sym("batch"), Dim.Sym("seq"), 16));
        var h = Unary(Op.Gelu, Linear(x, Weight(rng, "w1", 32, 16), Weight(rng, "b1", 32)));
        var y = Binary(Op.Add, x, Linear(h, Weight(rng, "w2", 16, 32), Weight(rng, "b2", 16)));
        return new Graph([x], [LayerNorm(y, Weight(rng, "ln_w", 16), Weight(rng, "ln_b", 16), 1e-5)], ["y"]);
    }

    /// <summary>Causal multi-head self-attention with rotary embeddings over x[1, seq, 32], 4 heads of 8.</summary>
    internal static Graph AttentionBlock(int seed = 2)
    {
        var rng = new Random(seed);
        var seq = Dim.Sym("seq");
        var x = Input("x", DType.F32, new Shape(1, seq, 32));
        var cos = Input("cos", DType.F32, new Shape(seq, 4));
        var sin = Input("sin", DType.F32, new Shape(seq, 4));
        var h = RmsNorm(x, Weight(rng, "norm", 32), 1e-6);
        Node Heads(Node t) => Transpose(Reshape(t, new Shape(1, seq, 4, 8)), 1, 2);
        var q = Rope(Heads(Linear(h, Weight(rng, "wq", 32, 32))), cos, sin, interleaved: false);
        var k = Rope(Heads(Linear(h, Weight(rng, "wk", 32, 32))), cos, sin, interleaved: false);
        var v = Heads(Linear(h, Weight(rng, "wv", 32, 32)));
        var a = Reshape(Transpose(Attention(q, k, v, causal: true), 1, 2), new Shape(1, seq, 32));
        var y = Binary(Op.Add, x, Linear(a, Weight(rng, "wo", 32, 32)));
        return new Graph([x, cos, sin], [y, Softmax(y, -1)], ["y", "p"]);
    }

    internal static HostTensor[] AttentionInputs(int seq, int seed)
    {
        var rng = new Random(seed);
        return [CpuHarness.Random(rng, DType.F32, [1, seq, 32]), CpuHarness.Random(rng, DType.F32, [seq, 4], -1, 1), CpuHarness.Random(rng, DType.F32, [seq, 4], -1, 1)];
    }

    [Fact]
    public void MlpServesTwoShapesFromOnePlan()
    {
        var g = Mlp();
        var plan = CandleCompiler.Compile(g);
        Assert.Equal(["batch", "seq"], plan.Symbols);
        foreach (var (b, s) in new[] { (1, 5), (3, 17), (2, 0) })
        {
            CpuHarness.CheckAgainstReference(g, [CpuHarness.Random(new Random(b * s), DType.F32, [b, s, 16])], 1e-5, 1e-5, plan: plan);
        }
    }

    [Fact]
    public void AttentionBlockServesTwoLengthsFromOnePlan()
    {
        var g = AttentionBlock();
        var plan = CandleCompiler.Compile(g);
        foreach (int seq in new[] { 7, 33, 1 })
        {
            CpuHarness.CheckAgainstReference(g, AttentionInputs(seq, seq), 1e-5, 1e-5, plan: plan);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void TransformerBlockAfterPassPipeline(int level)
    {
        var g = TransformerBlock.Build();
        var optimized = PassManager.CreateDefault().Run(g, PassTestKit.Context(level));
        var inputs = PassTestKit.RandomInputs(g, 3);
        var expected = ReferenceInterpreter.Run(g, inputs);
        var plan = CandleCompiler.Compile(optimized);
        CpuHarness.AssertClose(expected, plan.Run(inputs), 1e-4, 1e-4, () => IrPrinter.Print(optimized));
    }

    [Fact]
    public void RandomGraphsAfterPassPipeline()
    {
        RandomGraphs.Gen.Sample(
            g =>
            {
                var optimized = PassManager.CreateDefault().Run(g, PassTestKit.Context(3));
                var inputs = PassTestKit.RandomInputs(g, 5);
                var expected = ReferenceInterpreter.Run(g, inputs);
                CpuHarness.AssertClose(expected, CandleCompiler.Compile(optimized).Run(inputs), 1e-4, 1e-4, () => IrPrinter.Print(optimized));
                CpuHarness.AssertClose(expected, CandleCompiler.Compile(g).Run(inputs), 1e-4, 1e-4, () => IrPrinter.Print(g));
            },
            iter: 40,
            print: g => IrPrinter.Print(g));
    }

    [Fact]
    public void SixteenConcurrentCallersGetTheSerialResults()
    {
        var g = AttentionBlock();
        var plan = CandleCompiler.Compile(g);
        const int threads = 16, rounds = 6;
        int[] lengths = [3, 9, 16, 40];
        var inputs = lengths.Select((s, i) => AttentionInputs(s, 100 + i)).ToArray();
        var serial = inputs.Select(plan.Run).ToArray();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        using var barrier = new Barrier(threads);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            barrier.SignalAndWait();
            for (int r = 0; r < rounds; r++)
            {
                int which = (t + r) % inputs.Length;
                var got = plan.Run(inputs[which]);
                for (int o = 0; o < got.Length; o++)
                {
                    if (!got[o].Data.Span.SequenceEqual(serial[which][o].Data.Span)) failures.Add($"thread {t} round {r} output {o}");
                }
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        Assert.Empty(failures);
    }

    [Fact]
    public void MemoryPlannerReusesDeadBuffers()
    {
        var n = Dim.Sym("n");
        var x = Input("x", DType.F32, new Shape(n, 8));
        Node y = x;

        // Each step reads a transposed view, so no step can write over its input: the planner must reuse dead buffers.
        for (int i = 0; i < 6; i++) y = Unary(Op.Exp, Permute(y, 1, 0));
        var plan = CandleCompiler.Compile(new Graph([x], [y]), new CompileOptions { OptLevel = 0 });
        Assert.Equal(5, plan.Definition.Buffers.Count(b => b.Kind == BufferKind.Arena));
        Assert.Equal(2 * 3200, plan.PeakArenaBytes(new Dictionary<string, long> { ["n"] = 100 }));
        Assert.Equal(2 * 32000, plan.PeakArenaBytes(new Dictionary<string, long> { ["n"] = 1000 }));
        Assert.Equal(0, plan.PeakArenaBytes(new Dictionary<string, long> { ["n"] = 0 }));
    }

    [Fact]
    public void ElementwiseStepsWriteOverTheirDyingInputs()
    {
        var n = Dim.Sym("n");
        var x = Input("x", DType.F32, new Shape(n));
        Node y = x;
        for (int i = 0; i < 6; i++) y = Unary(Op.Exp, Unary(Op.Neg, y));
        var plan = CandleCompiler.Compile(new Graph([x], [y]), new CompileOptions { OptLevel = 0 });

        // 12 unfused steps: the first writes a new buffer, each later one over its dying input, and that buffer is the
        // output: no intermediate buffer at all.
        Assert.Equal(12, plan.Definition.Steps.Count);
        Assert.Equal(0, plan.Definition.Buffers.Count(b => b.Kind == BufferKind.Arena));
        var input = HostTensor.FromArray([0.5f, -1f, 2f, 0f, 3f], 5);
        var want = ReferenceInterpreter.Run(new Graph([x], [y]), [input])[0].ToFloat32();
        var got = plan.Run([input])[0].ToFloat32();
        for (int i = 0; i < want.Length; i++) Assert.Equal(want[i], got[i], 1e-6f);
    }

    [Fact]
    public void AnOutputViewIsCopiedAsSoonAsItsProducerIsComputed()
    {
        var n = Dim.Sym("n");
        var rng = new Random(9);
        var x = Input("x", DType.F32, new Shape(n, 8));
        Node W() => Constant(CpuHarness.Random(rng, DType.F32, [8, 8], -0.5, 0.5));

        // The first output is a transposed view of an early intermediate; three products follow. Copied at the end,
        // the intermediate would stay live beside the products' buffers (three at once); copied early, two suffice.
        var transposed = Permute(MatMul(x, W()), 1, 0);
        var product = MatMul(MatMul(MatMul(x, W()), W()), W());
        var g = new Graph([x], [transposed, product]);
        var plan = CandleCompiler.Compile(g);
        Assert.True(plan.PeakArenaBytes(new Dictionary<string, long> { ["n"] = 100 }) <= 2 * 3200, $"peak arena {plan.PeakArenaBytes(new Dictionary<string, long> { ["n"] = 100 })}");
        var input = CpuHarness.Random(new Random(4), DType.F32, [100, 8]);
        var want = ReferenceInterpreter.Run(g, [input]);
        var got = plan.Run([input]);
        for (int o = 0; o < 2; o++)
        {
            var w = want[o].ToFloat32();
            var r = got[o].ToFloat32();
            for (int i = 0; i < w.Length; i++) Assert.True(Math.Abs(w[i] - r[i]) <= 1e-5f * (1 + Math.Abs(w[i])), $"output {o} [{i}] {r[i]} vs {w[i]}");
        }
    }

    [Fact]
    public void AnOutputCastIsComputedAsSoonAsItsProducerIs()
    {
        var n = Dim.Sym("n");
        var rng = new Random(11);
        var x = Input("x", DType.F32, new Shape(n, 8));
        Node W() => Constant(CpuHarness.Random(rng, DType.F32, [8, 8], -0.5, 0.5));

        // An intermediate read by a chain of products and returned, transposed, in float16 (a prefill's keys recorded
        // in a float16 cache): cast at the end, the intermediate would stay live beside the products' buffers (three
        // at once); cast as soon as it is computed, two suffice.
        var a = MatMul(x, W());
        var product = MatMul(MatMul(MatMul(a, W()), W()), W());
        var g = new Graph([x], [product, Cast(Permute(a, 1, 0), DType.F16)]);
        var plan = CandleCompiler.Compile(g);
        var env = new Dictionary<string, long> { ["n"] = 100 };
        Assert.True(plan.PeakArenaBytes(env) <= 2 * 3200, $"peak arena {plan.PeakArenaBytes(env)}");
        var input = CpuHarness.Random(new Random(5), DType.F32, [100, 8]);
        var want = ReferenceInterpreter.Run(g, [input]);
        var got = plan.Run([input]);
        Assert.Equal(DType.F16, got[1].DType);
        for (int o = 0; o < 2; o++)
        {
            var w = want[o].ToFloat32();
            var r = got[o].ToFloat32();
            for (int i = 0; i < w.Length; i++) Assert.True(Math.Abs(w[i] - r[i]) <= 1e-3f * (1 + Math.Abs(w[i])), $"output {o} [{i}] {r[i]} vs {w[i]}");
        }
    }

    [Fact]
    public void GatedProductTakesThePlaceOfAnOperandNothingElseReads()
    {
        var n = Dim.Sym("n");
        var rng = new Random(7);
        var x = Input("x", DType.F32, new Shape(n, 16));
        Node W(int rows, int cols) => Constant(CpuHarness.Random(rng, DType.F32, [rows, cols], -0.5, 0.5));
        var gate = MatMul(x, W(16, 32));
        var up = MatMul(x, W(16, 32));
        var gated = Binary(Op.Mul, Binary(Op.Mul, gate, Unary(Op.Sigmoid, gate)), up);
        var down = MatMul(gated, W(32, 16));
        var plain = new Graph([x], [down]);

        // The gate read again by a step that must come after the product: the product may not write over the gate.
        var stillRead = new Graph([x], [Binary(Op.Add, MatMul(gated, W(32, 32)), gate)]);
        var env = new Dictionary<string, long> { ["n"] = 100 };
        const long projection = 100 * 32 * 4;
        foreach (var (g, peak) in new[] { (plain, 2 * projection), (stillRead, 3 * projection) })
        {
            var plan = CandleCompiler.Compile(g);
            Assert.True(plan.PeakArenaBytes(env) <= peak, $"peak arena {plan.PeakArenaBytes(env)} > {peak}");
            var input = CpuHarness.Random(new Random(3), DType.F32, [100, 16]);
            var want = ReferenceInterpreter.Run(g, [input])[0].ToFloat32();
            var got = plan.Run([input])[0].ToFloat32();
            for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(want[i] - got[i]) <= 1e-4f * (1 + Math.Abs(want[i])), $"[{i}] {got[i]} vs {want[i]}");
        }
    }

    [Fact]
    public void MemoryPlannerNeverOverlapsLiveBuffers()
    {
        var rng = new Random(11);
        for (int trial = 0; trial < 200; trial++)
        {
            int count = rng.Next(1, 30);
            var bytes = Enumerable.Range(0, count).Select(_ => (long)rng.Next(0, 5000)).ToArray();
            var first = Enumerable.Range(0, count).Select(_ => rng.Next(0, 20)).ToArray();
            var last = first.Select(f => f + rng.Next(0, 6)).ToArray();
            var offsets = new long[count];
            long peak = MemoryPlanner.Assign(bytes, first, last, offsets);
            for (int i = 0; i < count; i++)
            {
                Assert.Equal(0, offsets[i] % MemoryPlanner.Alignment);
                Assert.True(offsets[i] + bytes[i] <= peak);
                for (int j = 0; j < i; j++)
                {
                    bool live = first[i] <= last[j] && first[j] <= last[i];
                    bool overlap = offsets[i] < offsets[j] + bytes[j] && offsets[j] < offsets[i] + bytes[i] && bytes[i] > 0 && bytes[j] > 0;
                    Assert.False(live && overlap, $"buffers {i} and {j} overlap while both live");
                }
            }
        }
    }

    [Fact]
    public void RunIntoWritesCallerBuffers()
    {
        var g = AttentionBlock();
        var plan = CandleCompiler.Compile(g);
        var inputs = AttentionInputs(11, 3);
        var expected = plan.Run(inputs);
        HostTensor[] outs = [HostTensor.Zeros(DType.F32, 1, 11, 32), HostTensor.Zeros(DType.F32, 1, 11, 32)];
        plan.RunInto(inputs, outs);
        plan.RunInto(inputs, outs);
        for (int o = 0; o < 2; o++) Assert.True(expected[o].Data.Span.SequenceEqual(outs[o].Data.Span));
        Assert.Throws<ArgumentException>(() => plan.RunInto(inputs, [HostTensor.Zeros(DType.F32, 1, 10, 32), outs[1]]));
    }

    [Fact]
    public void RunWritesTheGivenOutputsAndAllocatesTheRest()
    {
        var g = AttentionBlock();
        var plan = CandleCompiler.Compile(g);
        var inputs = AttentionInputs(11, 5);
        var expected = ReferenceInterpreter.Run(g, inputs);
        var given = HostTensor.Zeros(DType.F32, 1, 11, 32);
        var outs = plan.Run(inputs, [null, given]);
        Assert.Same(given, outs[1]);
        for (int o = 0; o < 2; o++)
        {
            var want = expected[o].ToFloat32();
            var got = outs[o].ToFloat32();
            for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(want[i] - got[i]) <= 1e-5f * (1 + Math.Abs(want[i])), $"output {o}[{i}]: {got[i]} vs {want[i]}");
        }

        // A given output of the wrong shape, or over an input's memory, is refused before anything runs.
        Assert.Throws<ArgumentException>(() => plan.Run(inputs, [HostTensor.Zeros(DType.F32, 1, 10, 32)]));
        var overInput = new HostTensor(DType.F32, [1, 11, 32], inputs[0].Data);
        var e = Assert.Throws<ArgumentException>(() => plan.Run(inputs, [overInput]));
        Assert.Contains("overlaps input", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BadInputsRaiseClearErrors()
    {
        var plan = CandleCompiler.Compile(Mlp());
        var e = Assert.Throws<ArgumentException>(() => plan.Run([HostTensor.Zeros(DType.F32, 2, 3, 15)]));
        Assert.Contains("'x'", e.Message);
        Assert.Contains("16", e.Message);
        Assert.Throws<ArgumentException>(() => plan.Run([HostTensor.Zeros(DType.F16, 2, 3, 16)]));
        Assert.Throws<ArgumentException>(() => plan.Run([]));
    }
}
