namespace Candle.Perf.Infrastructure;

/// <summary>The work one invocation of a benchmark method does, for the throughput columns.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class WorkAttribute : Attribute
{
    /// <summary>Floating-point operations per invocation.</summary>
    public double Flops { get; init; }

    /// <summary>Bytes moved to or from memory per invocation.</summary>
    public double Bytes { get; init; }
}
