using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using Candle.Perf.Elementwise;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;

namespace Candle.Perf.LlamaLayer;

/// <summary>
/// CPU time of one TinyLlama-shaped decoder layer (<see cref="LlamaLayerGraph"/>, float32 weights) on two threads
/// after the default pipeline at O0, O2 and O3, for one token (decode-like, no cache) and 128 tokens (prefill-like).
/// Kernel counts and arena sizes come from <see cref="LlamaLayerReport"/> (<c>dotnet run -c Release -- llama-layer-report</c>).
/// </summary>
[Config(typeof(Config))]
public class LlamaLayerBenchmarks
{
    private const int Threads = 2;
    private Plan _plan = null!;
    private HostTensor[] _inputs = [];
    private HostTensor[] _outputs = [];

    [Params(1, 128)]
    public int Seq { get; set; } = 1;

    [Params(0, 2, 3)]
    public int Level { get; set; } = 2;

    [GlobalSetup]
    public void Setup()
    {
        _plan = CandlePlans.Compile(LlamaLayerGraph.Graph, Level, Threads);
        var x = HostTensor.Zeros(DType.F32, 1, Seq, TinyLlamaCheckpoint.Hidden);
        var rng = new Random(3);
        var s = x.AsSpan<float>();
        for (int i = 0; i < s.Length; i++) s[i] = (float)(rng.NextDouble() - 0.5);
        _inputs = [x];
        _outputs = [HostTensor.Zeros(DType.F32, 1, Seq, TinyLlamaCheckpoint.Hidden)];
        var arena = _plan.PeakArenaBytes(new Dictionary<string, long> { [LlamaLayerGraph.SeqSymbol] = Seq });
        Console.WriteLine($"// O{Level} seq {Seq}: {_plan.Definition.Steps.Count} plan steps, arena {arena / 1048576.0:F1} MiB");
    }

    [Benchmark]
    public void Layer() => _plan.RunInto(_inputs, _outputs);

    /// <summary>A short job, in process.</summary>
    public sealed class Config : ManualConfig
    {
        public Config()
        {
            AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(5).WithUnrollFactor(1)
            .WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(250)).WithToolchain(BenchmarkDotNet.Toolchains.InProcess.Emit.InProcessEmitToolchain.Instance).WithId("Short"));
            HideColumns("Error", "StdDev", "Median");
        }
    }
}
