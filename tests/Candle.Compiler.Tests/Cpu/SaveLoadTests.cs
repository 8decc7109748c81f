using System.Diagnostics;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>Saved plans load in this process and in a separate one that references only Candle.Runtime.</summary>
public sealed class SaveLoadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("candle-plan-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Graph MixedGraph()
    {
        // Generated kernels (f32, f16), runtime kernels, weights and a symbolic length.
        var rng = new Random(4);
        var n = Dim.Sym("n");
        var x = Input("x", DType.F32, new Shape(n, 16));
        var h = Input("h", DType.F16, new Shape(n));
        var y = Softmax(Unary(Op.Tanh, Linear(x, ModelTests.Weight(rng, "w", 24, 16), ModelTests.Weight(rng, "b", 24))), -1);
        var z = Binary(Op.Mul, Unary(Op.Silu, h), Cast(Reduce(Op.Sum, y, [1]), DType.F16));
        return new Graph([x, h], [y, z], ["probs", "gated"]);
    }

    [Fact]
    public void SavedPlanLoadsInProcessWithIdenticalOutputs()
    {
        var g = MixedGraph();
        var plan = CandleCompiler.Compile(g);
        string path = Path.Combine(_dir, "mixed.plan");
        plan.Save(path);
        var loaded = Plan.Load(path);
        Assert.Equal(plan.InputNames, loaded.InputNames);
        Assert.Equal(plan.OutputNames, loaded.OutputNames);
        Assert.Equal(plan.DumpKernels(), loaded.DumpKernels());
        foreach (int len in new[] { 0, 5, 21 })
        {
            var rng = new Random(len);
            HostTensor[] ins = [CpuHarness.Random(rng, DType.F32, [len, 16]), CpuHarness.Random(rng, DType.F16, [len])];
            var a = plan.Run(ins);
            var b = loaded.Run(ins);
            for (int o = 0; o < a.Length; o++) Assert.True(a[o].Data.Span.SequenceEqual(b[o].Data.Span));
            CpuHarness.CheckAgainstReference(g, ins, 2e-3, 2e-3, plan: loaded);
        }
    }

    [Fact]
    public void SavedPlanRunsInAProcessThatReferencesOnlyTheRuntime()
    {
        var g = ModelTests.AttentionBlock();
        var plan = CandleCompiler.Compile(g);
        string planPath = Path.Combine(_dir, "attention.plan");
        string inPath = Path.Combine(_dir, "in.safetensors");
        string outPath = Path.Combine(_dir, "out.safetensors");
        plan.Save(planPath);
        var inputs = ModelTests.AttentionInputs(13, 1);
        SafeTensorsWriter.Write(inPath, plan.InputNames.Select((name, i) => new KeyValuePair<string, HostTensor>(name, inputs[i])));

        string exe = AotProgramPath();
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { exe, planPath, inPath, outPath, "3" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "the runtime-only process did not finish");
        Assert.True(p.ExitCode == 0, $"exit code {p.ExitCode}\n{stdout}\n{stderr}");
        Assert.DoesNotContain("Candle.Compiler", stdout.Split("assemblies:")[1]);

        var expected = plan.Run(inputs);
        using var outFile = SafeTensorsFile.Open(outPath);
        for (int o = 0; o < expected.Length; o++)
        {
            var got = outFile.Get(plan.OutputNames[o]);
            Assert.Equal(expected[o].Shape, got.Shape);
            Assert.True(expected[o].Data.Span.SequenceEqual(got.Data.Span), $"output {plan.OutputNames[o]} differs");
        }
    }

    [Fact]
    public void CorruptPlanFilesFailWithTheFileName()
    {
        string path = Path.Combine(_dir, "bad.plan");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
        var e = Assert.Throws<PlanFormatException>(() => Plan.Load(path));
        Assert.Contains("bad.plan", e.Message);

        CandleCompiler.Compile(MixedGraph()).Save(path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 3)]);
        e = Assert.Throws<PlanFormatException>(() => Plan.Load(path));
        Assert.Contains("bad.plan", e.Message);
    }

    private static string AotProgramPath()
    {
        // tests/Candle.Compiler.Tests/bin/<config>/<tfm>/ → tests/Candle.Runtime.AotTests/bin/<config>/<tfm>/
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string tfm = baseDir.Name, config = baseDir.Parent!.Name;
        string testsDir = baseDir.Parent!.Parent!.Parent!.Parent!.FullName;
        string path = Path.Combine(testsDir, "Candle.Runtime.AotTests", "bin", config, tfm, "Candle.Runtime.AotTests.dll");
        Assert.True(File.Exists(path), $"{path} was not built");
        return path;
    }
}
