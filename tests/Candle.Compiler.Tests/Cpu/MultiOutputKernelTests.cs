using Candle.Compiler.Autodiff;
using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Compiler.Tests.Passes;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// Elementwise groups with several outputs (graph outputs used otherwise only inside the group) become one generated
/// kernel that writes each output, in place of donated inputs where nothing else reads them; checked against the
/// reference interpreter on the graph as written, and against the plan of a backend without multi-output kernels.
/// </summary>
public sealed class MultiOutputKernelTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("candle-multi-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// A momentum-like update over [5, 37] (185 elements: vector loops and a scalar tail): m = m0·0.9 + g·0.1 and
    /// p' = p − lr·m with lr a broadcast [] input, g read through a transpose (strided), and a bfloat16 copy of p'.
    /// </summary>
    private static Graph Update(bool donated)
    {
        var p = donated ? DonatedInput("p", DType.F32, Shape.Of(5, 37)) : Input("p", DType.F32, Shape.Of(5, 37));
        var m0 = donated ? DonatedInput("m0", DType.F32, Shape.Of(5, 37)) : Input("m0", DType.F32, Shape.Of(5, 37));
        var g = Input("g", DType.F32, Shape.Of(37, 5));
        var lr = Input("lr", DType.F32, Shape.Scalar);
        var m = Binary(Op.Add, Binary(Op.Mul, m0, 0.9), Binary(Op.Mul, Permute(g, [1, 0]), 0.1));
        var next = Binary(Op.Sub, p, Binary(Op.Mul, m, lr));
        return new Graph([p, m0, g, lr], [next, m, Cast(next, DType.BF16)], ["p", "m", "p_bf16"]);
    }

    private static HostTensor[] Inputs(Graph g, int seed)
    {
        var rng = new Random(seed);
        return [.. g.Inputs.Select(i => CpuHarness.Random(rng, i.DType, i.Shape.ToInts()))];
    }

    private static HostTensor[] Clone(HostTensor[] ts) => [.. ts.Select(t => t.Clone())];

    private static List<PlanStep> MultiOutputSteps(Plan plan) =>
        [.. plan.Definition.Steps.Where(s => s.Kernel.StartsWith("gen:", StringComparison.Ordinal) && s.Label.Contains('×', StringComparison.Ordinal))];

    [Theory]
    [InlineData(true, 0)]
    [InlineData(false, 0)]
    [InlineData(true, 128)]
    [InlineData(false, 256)]
    public void A_multi_output_group_is_one_kernel_matching_the_reference(bool donated, int vectorBits)
    {
        var graph = Update(donated);
        var inputs = Inputs(graph, 3);
        var want = ReferenceInterpreter.Run(graph, Clone(inputs));
        using var plan = new CpuBackend(vectorBits).CompilePlan(graph, new CompileOptions { OptLevel = 2 });

        // One kernel computes the update: it writes p, m and p's bfloat16 copy (the pipeline may scale g in its own
        // layout first, so that the update reads it contiguously).
        Assert.Contains("×3", Assert.Single(MultiOutputSteps(plan)).Label, StringComparison.Ordinal);
        var def = plan.Definition;
        if (donated)
        {
            Assert.Equal(def.Inputs.Single(t => t.Name == "p").Buffer, def.Outputs.Single(t => t.Name == "p").Buffer);
            Assert.Equal(def.Inputs.Single(t => t.Name == "m0").Buffer, def.Outputs.Single(t => t.Name == "m").Buffer);
        }
        else
        {
            foreach (var o in def.Outputs) Assert.NotEqual(BufferKind.Input, def.Buffers[o.Buffer].Kind);
        }

        var run = Clone(inputs);
        var got = plan.Run(run);
        CpuHarness.AssertClose(want, got, 1e-6, 2e-6, () => plan.Describe());

        // The bfloat16 output is p' rounded (to nearest even), as the reference casts.
        Assert.Equal(want[2].ToFloat64(), got[2].ToFloat64());
        if (donated)
        {
            Assert.Equal(got[0].ToFloat64(), run[0].ToFloat64());
            Assert.Equal(got[1].ToFloat64(), run[1].ToFloat64());
        }
        else
        {
            Assert.Equal(inputs[0].ToFloat64(), run[0].ToFloat64());
            Assert.Equal(inputs[1].ToFloat64(), run[1].ToFloat64());
        }
    }

    [Fact]
    public void Fusion_makes_one_node_per_output_over_one_body_only_where_the_target_fuses_them()
    {
        var graph = Update(donated: true);
        var fused = PassManager.RunOne(new Fusion(), graph, new PassContext(2) { Capabilities = CpuBackend.Instance.Capabilities });
        var outputs = fused.Outputs;
        Assert.All(outputs, o => Assert.Equal(Op.Fused, o.Op));
        var body = outputs[0].Attr<FusedAttrs>().Body;
        Assert.All(outputs, o => Assert.Same(body, o.Attr<FusedAttrs>().Body));
        Assert.Equal(3, body.Outputs.Length);
        Assert.Equal(3, outputs.Select(o => o.Attr<FusedAttrs>().Output).Distinct().Count());
        PassTestKit.AssertSameResults(graph, fused);

        // A target without multi-output kernels keeps one group per output: m is computed by a group of its own.
        var gpuLike = CpuBackend.Instance.Capabilities with { FusedKinds = new HashSet<string> { FusedKinds.Elementwise } };
        var separate = PassManager.RunOne(new Fusion(), graph, new PassContext(2) { Capabilities = gpuLike });
        Assert.All(separate.Nodes.Where(n => n.Op == Op.Fused), n => Assert.Single(n.Attr<FusedAttrs>().Body.Outputs));
        PassTestKit.AssertSameResults(graph, separate);
    }

    [Fact]
    public void Without_generated_code_the_outputs_are_separate_kernels_with_the_same_bits()
    {
        var graph = Update(donated: true);
        var inputs = Inputs(graph, 5);
        using var multi = new CpuBackend().CompilePlan(graph, new CompileOptions { OptLevel = 2 });
        using var interpreted = new CpuBackend(generateKernels: false).CompilePlan(graph, new CompileOptions { OptLevel = 2 });
        Assert.Empty(MultiOutputSteps(interpreted));
        var a = multi.Run(Clone(inputs));
        var b = interpreted.Run(Clone(inputs));
        for (int i = 0; i < a.Length; i++) Assert.True(a[i].Data.Span.SequenceEqual(b[i].Data.Span), $"output {i} differs");
    }

    [Fact]
    public void A_regenerated_multi_output_plan_matches_the_embedded_kernels()
    {
        var graph = Update(donated: false);
        var inputs = Inputs(graph, 9);
        using var plan = CandleCompiler.Compile(graph);
        Assert.Contains("also=[", plan.KernelDump, StringComparison.Ordinal);
        string path = Path.Combine(_dir, "multi.plan");
        plan.Save(path);
        using var regenerated = Plan.Load(path, new PlanLoadOptions { KernelGenerator = CpuKernelGenerator.Instance });
        var a = plan.Run(Clone(inputs));
        var b = regenerated.Run(Clone(inputs));
        for (int i = 0; i < a.Length; i++) Assert.True(a[i].Data.Span.SequenceEqual(b[i].Data.Span), $"output {i} differs");
    }

    public static TheoryData<string> Optimizers => ["adam", "adamw", "sgd-momentum", "sgd-nesterov"];

    private static Optimizer Make(string name) => name switch
    {
        "adam" => new Adam(learningRate: 0.01, weightDecay: 0.05),
        "adamw" => new AdamW(learningRate: 0.01, weightDecay: 0.1),
        "sgd-momentum" => new Sgd(0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01),
        _ => new Sgd(0.05, momentum: 0.9, weightDecay: 0.01, nesterov: true),
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void The_train_step_updates_each_parameter_in_one_kernel_with_unchanged_values(string name)
    {
        var optimizer = Make(name);
        (string, DType, Shape)[] parameters = [("w", DType.F32, Shape.Of(7, 33)), ("b", DType.F32, Shape.Of(33)), ("s", DType.F32, Shape.Of(1))];
        var apply = TrainStep.BuildApply(parameters, optimizer);
        using var plan = CandleCompiler.Compile(apply.Graph);
        var def = plan.Definition;

        // One update kernel per parameter, writing the parameter and its state in place.
        var updates = MultiOutputSteps(plan);
        Assert.Equal(parameters.Length, updates.Count);
        int states = optimizer.StateNames.Count;
        foreach (var (p, _, _) in parameters)
        {
            // The step writing the parameter writes its state too: its first argument and its last ones are the outputs.
            string[] own = [.. optimizer.StateNames.Select(s => TrainStep.StateInput(s, p)).Append(p).Select(n => def.Inputs.Single(t => t.Name == n).Buffer.ToString(System.Globalization.CultureInfo.InvariantCulture)).Order()];
            Assert.Single(updates, s => own.SequenceEqual(s.Args.Take(1).Concat(s.Args.TakeLast(states)).Select(a => a.ToString()).Order()));
        }
        foreach (var (p, _, _) in parameters)
        {
            foreach (var (output, input) in optimizer.StateNames.Select(s => ("state." + TrainStep.StateInput(s, p), TrainStep.StateInput(s, p))).Append(("param." + p, p)))
            {
                Assert.Equal(def.Inputs.Single(t => t.Name == input).Buffer, def.Outputs.Single(t => t.Name == output).Buffer);
            }
        }

        var rng = new Random(17);
        var inputs = apply.Graph.Inputs.Select(i =>
        {
            string n = i.Attr<InputAttrs>().Name;
            if (n.StartsWith("hp.", StringComparison.Ordinal)) return HostTensor.FromArray([(float)optimizer.Scalars(3, optimizer.LearningRate)[optimizer.ScalarNames.ToList().IndexOf(n[3..])]]).Reshape();
            return CpuHarness.Random(rng, i.DType, i.Shape.ToInts(), n.StartsWith("exp_avg_sq", StringComparison.Ordinal) ? 0 : -1, 1);
        }).ToArray();

        // The reference interpreter on the graph as written, and the plan of a backend without multi-output kernels,
        // whose separate kernels round the same f32 operations: equal bits.
        var want = ReferenceInterpreter.Run(apply.Graph, Clone(inputs));
        using var separate = new CpuBackend(generateKernels: false).CompilePlan(apply.Graph, new CompileOptions());
        var bits = separate.Run(Clone(inputs));
        var got = plan.Run(Clone(inputs));
        CpuHarness.AssertClose(want, got, 1e-6, 1e-5, () => plan.Describe());
        for (int i = 0; i < got.Length; i++) Assert.True(got[i].Data.Span.SequenceEqual(bits[i].Data.Span), $"{def.Outputs[i].Name} differs from the separate kernels' bits");
    }
}
