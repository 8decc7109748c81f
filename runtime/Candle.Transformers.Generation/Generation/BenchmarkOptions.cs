namespace Candle.Transformers.Generation;

/// <summary>Settings of <see cref="TextGenerator.Benchmark"/>, after llama-bench's pp/tg tests.</summary>
public sealed record BenchmarkOptions
{
    /// <summary>Prompt length of the prefill test (llama-bench <c>-p</c>).</summary>
    public int PromptTokens { get; init; } = 128;

    /// <summary>Tokens of the decode test (llama-bench <c>-n</c>).</summary>
    public int GenTokens { get; init; } = 64;

    /// <summary>Timed repetitions of each test (llama-bench <c>-r</c>); the median is reported.</summary>
    public int Repetitions { get; init; } = 5;

    /// <summary>Whether to run each test once untimed first.</summary>
    public bool Warmup { get; init; } = true;

    /// <summary>Seed of the random token ids.</summary>
    public int Seed { get; init; } = 1234;

    /// <summary>Told after each run of a test (warm-up included); null for none.</summary>
    public IProgress<BenchmarkProgress>? Progress { get; init; }

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range; the message names it.</exception>
    public void Validate()
    {
        if (PromptTokens < 0) throw new ArgumentOutOfRangeException(nameof(PromptTokens), PromptTokens, "must be ≥ 0");
        if (GenTokens < 0) throw new ArgumentOutOfRangeException(nameof(GenTokens), GenTokens, "must be ≥ 0");
        if (Repetitions < 1) throw new ArgumentOutOfRangeException(nameof(Repetitions), Repetitions, "must be ≥ 1");
    }
}
