using Candle.Compiler;
using Candle.Compiler.Backends;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Cli.Tests;

/// <summary>The README's C# example, verbatim in substance, so the README cannot drift from the API.</summary>
public sealed class ReadmeExampleTests
{
    [Fact]
    public void ReadmeExampleRunsAndCompiledEqualsEagerAndSaved()
    {
        Init.ManualSeed(1);
        var mlp = new Sequential(new Linear(64, 256), new Gelu(), new Linear(256, 64));
        var graph = Tracer.Trace(mlp, new TraceInput("x", DType.F32, "batch", 64L));
        Plan plan = CandleCompiler.Compile(graph, new CompileOptions { OptLevel = 2 });
        var x = Tensors.Randn([3, 64], seed: 7).ToHostTensor();
        HostTensor y = plan.Run([x])[0];
        Assert.Equal(new[] { 3, 64 }, y.Shape);

        string path = Path.Combine(Path.GetTempPath(), $"readme-{Guid.NewGuid():N}.plan");
        try
        {
            plan.Save(path);
            var loaded = Plan.Load(path);
            Assert.Equal(y.ToFloat32(), loaded.Run([x])[0].ToFloat32());
        }
        finally
        {
            File.Delete(path);
        }

        float[] eager = mlp.Forward(Tensors.FromHost(x)).ToFloatArray();
        float[] compiled = y.ToFloat32();
        for (int i = 0; i < eager.Length; i++)
        {
            Assert.True(Math.Abs(eager[i] - compiled[i]) <= 1e-4 + (1e-4 * Math.Abs(eager[i])), $"element {i}: eager {eager[i]} vs compiled {compiled[i]}");
        }

        // One plan, another batch size.
        var x5 = Tensors.Randn([5, 64], seed: 8).ToHostTensor();
        Assert.Equal(new[] { 5, 64 }, plan.Run([x5])[0].Shape);
    }
}
