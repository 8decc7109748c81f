using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;

namespace Candle.Perf.Infrastructure;

/// <summary>A short job (one launch, three warm-ups, five measured iterations) with the throughput columns.</summary>
public sealed class ShortThroughputConfig : ManualConfig
{
    public ShortThroughputConfig()
    {
        AddJob(Job.ShortRun.WithIterationCount(5).WithId("Short"));
        AddColumn(ThroughputColumn.Gflops, ThroughputColumn.GBytes);
        HideColumns("Error", "StdDev", "Median", "RatioSD");
    }
}
