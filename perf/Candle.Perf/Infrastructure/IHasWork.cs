namespace Candle.Perf.Infrastructure;

/// <summary>A benchmark parameter that knows the work of one invocation (such as a GEMM shape).</summary>
public interface IHasWork
{
    /// <summary>Floating-point operations per invocation.</summary>
    double Flops { get; }
}
