namespace Candle.Transformers.Generation;

/// <summary>Throughput measured by <see cref="TextGenerator.Benchmark"/>.</summary>
/// <param name="PrefillTokensPerSecond">Median prompt tokens per second (llama-bench's ppN); 0 when not measured.</param>
/// <param name="DecodeTokensPerSecond">Median generated tokens per second (llama-bench's tgN); 0 when not measured.</param>
/// <param name="PrefillSamples">Tokens per second of each timed prefill repetition.</param>
/// <param name="DecodeSamples">Tokens per second of each timed decode repetition.</param>
public sealed record BenchmarkResult(
    double PrefillTokensPerSecond,
    double DecodeTokensPerSecond,
    IReadOnlyList<double> PrefillSamples,
    IReadOnlyList<double> DecodeSamples);
