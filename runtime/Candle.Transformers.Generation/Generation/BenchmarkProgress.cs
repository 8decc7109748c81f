namespace Candle.Transformers.Generation;

/// <summary>Progress of <see cref="TextGenerator.Benchmark"/>: runs of the current test finished so far.</summary>
/// <param name="Test">The test, as llama-bench names it ("pp128", "tg64").</param>
/// <param name="Done">Runs finished, the untimed warm-up included.</param>
/// <param name="Total">Runs the test makes, the untimed warm-up included.</param>
public readonly record struct BenchmarkProgress(string Test, int Done, int Total);
