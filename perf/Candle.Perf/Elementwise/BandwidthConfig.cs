using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;

namespace Candle.Perf.Elementwise;

/// <summary>
/// A short job (one launch, two warm-ups, five measured iterations of about 250 ms, no unrolling: calls take
/// milliseconds; in process) with a GB/s column from the parameters.
/// </summary>
public sealed class BandwidthConfig : ManualConfig
{
    public BandwidthConfig()
    {
        AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(5).WithUnrollFactor(1)
            .WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(250)).WithToolchain(BenchmarkDotNet.Toolchains.InProcess.Emit.InProcessEmitToolchain.Instance).WithId("Short"));
        AddColumn(BandwidthColumn.Instance);
        HideColumns("Error", "StdDev", "Median", "RatioSD");
    }
}
