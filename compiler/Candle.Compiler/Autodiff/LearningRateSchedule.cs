namespace Candle.Compiler.Autodiff;

/// <summary>
/// The learning-rate factor of each step (1 for the first), as transformers' schedules: constant, linear warmup then
/// linear decay to zero, or linear warmup then cosine decay to zero.
/// </summary>
public sealed record LearningRateSchedule(string Kind, int WarmupSteps, int TotalSteps)
{
    /// <summary>No schedule: factor 1.</summary>
    public static LearningRateSchedule Constant { get; } = new("constant", 0, 0);

    /// <summary>transformers' get_linear_schedule_with_warmup.</summary>
    public static LearningRateSchedule Linear(int warmupSteps, int totalSteps) => new("linear", warmupSteps, totalSteps);

    /// <summary>transformers' get_cosine_schedule_with_warmup (half a cycle).</summary>
    public static LearningRateSchedule Cosine(int warmupSteps, int totalSteps) => new("cosine", warmupSteps, totalSteps);

    /// <summary>The factor applied at step <paramref name="step"/> (1-based; the scheduler has stepped step − 1 times).</summary>
    /// <exception cref="ArgumentException">The kind is unknown.</exception>
    public double Factor(int step)
    {
        int t = step - 1;
        if (Kind == "constant") return 1;
        if (t < WarmupSteps) return (double)t / Math.Max(1, WarmupSteps);
        double progress = (double)(t - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return Kind switch
        {
            "linear" => Math.Max(0, (double)(TotalSteps - t) / Math.Max(1, TotalSteps - WarmupSteps)),
            "cosine" => Math.Max(0, 0.5 * (1 + Math.Cos(Math.PI * progress))),
            _ => throw new ArgumentException($"unknown learning-rate schedule '{Kind}' (constant, linear, cosine)"),
        };
    }
}
