using System.Globalization;

namespace Candle.Tests;

/// <summary>
/// How long the standing fuzz tests run: a fixed CsCheck seed and a short run by default (CI), or
/// <c>CANDLE_FUZZ_ITERATIONS=N</c> for N iterations from random seeds (local runs; a failure prints its seed, which
/// <c>CsCheck_Seed</c> replays).
/// </summary>
internal static class FuzzSettings
{
    private const string FixedSeed = "0N0XIzNsQ0O2";

    /// <summary>The seed to pass to Sample: fixed unless a long run was asked for.</summary>
    public static string? Seed => LongRun is null ? FixedSeed : null;

    /// <summary>The iterations: <paramref name="ci"/> by default, the environment's count in a long run.</summary>
    public static long Iterations(long ci) => LongRun ?? ci;

    private static long? LongRun =>
        long.TryParse(Environment.GetEnvironmentVariable("CANDLE_FUZZ_ITERATIONS"), NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) && n > 0 ? n : null;
}
