using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Candle.Runtime.Kernels.Gemm;

namespace Candle.Perf.Gemm;

/// <summary>
/// <c>sgemm-rate [rounds] [--threads N] [--baseline DIR]</c>: GFLOP/s of <see cref="SgemmBenchmarks"/>' Candle SGEMM (B packed per call,
/// pre-packed, and pre-packed but read from memory: a different copy each call, as a model's weights) and ONNX Runtime's
/// MatMul on N threads (two unless given), for each shape of its list (or <c>CANDLE_PERF_SHAPES</c>), alternating batch
/// by batch in one process; the fastest batch of each over the rounds. First, the machine's FMA peak on one and on N threads (<see cref="Peak.PeakBenchmarks"/>' loop) and the
/// microkernel's own rate on one thread, its packed panels in L1 (the ceiling of the blocked driver). With
/// <c>--baseline DIR</c>, an earlier build's SGEMM (<see cref="BaselineSgemm"/>, its output directory) runs in the same
/// rounds, called through reflection, each build right after the other, with the median of the rounds' ratios beside
/// the fastest batches'.
/// </summary>
internal static unsafe class SgemmRate
{
    public static void Run(string[] args)
    {
        int t = Array.IndexOf(args, "--threads");
        int threads = t >= 0 && t + 1 < args.Length ? int.Parse(args[t + 1], CultureInfo.InvariantCulture) : 2;
        string[] rest = t >= 0 ? [.. args[..t], .. args[Math.Min(args.Length, t + 2)..]] : args;
        int bl = Array.IndexOf(rest, "--baseline");
        string? baselineDir = bl >= 0 && bl + 1 < rest.Length ? rest[bl + 1] : null;
        rest = bl >= 0 ? [.. rest[..bl], .. rest[Math.Min(rest.Length, bl + 2)..]] : rest;
        int rounds = rest is [var r] ? int.Parse(r, CultureInfo.InvariantCulture) : 20;
        using var baseline = baselineDir is null ? null : new BaselineSgemm(baselineDir, threads);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"// FMA peak: {FmaPeak(1, rounds):F1} GFLOP/s on one thread, {FmaPeak(threads, rounds):F1} on {threads}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"// {Sgemm.KernelName} on panels in L1, one thread: {MicroKernelRate(5 * rounds):F1} GFLOP/s"));
        Console.WriteLine($"{threads} thread(s)");
        if (baseline is null)
        {
            Console.WriteLine($"| shape | Candle (GFLOP/s) | Candle, B pre-packed | ONNX Runtime | Candle, B pre-packed from memory | Candle / ORT time |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        }
        else
        {
            Console.WriteLine($"| shape | Candle (GFLOP/s) | Candle, B pre-packed | baseline | baseline, B pre-packed | ONNX Runtime | Candle, B pre-packed from memory | baseline, B pre-packed from memory | Candle / ORT time | Candle / baseline time | pre-packed: Candle / baseline time | pre-packed from memory: Candle / baseline time |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        }

        foreach (var shape in SgemmBenchmarks.Shapes)
        {
            var suite = new SgemmBenchmarks { Shape = shape, Threads = threads };
            suite.Setup();
            Action[] runs = baseline is null
                ? [suite.CandleSgemm, suite.CandlePackedB, suite.OnnxRuntime, suite.CandlePackedBCold]
                : [suite.CandleSgemm, suite.CandlePackedB, suite.OnnxRuntime, baseline.Multiply, baseline.MultiplyPacked, suite.CandlePackedBCold, baseline.MultiplyPackedCold];
            baseline?.Bind(shape, suite.A, suite.B, suite.C);
            foreach (var run in runs) run();
            var start = Stopwatch.GetTimestamp();
            suite.CandleSgemm();
            double once = Stopwatch.GetElapsedTime(start).TotalSeconds;
            int reps = (int)Math.Clamp(0.002 / Math.Max(once, 1e-7), 1, 10000);
            var best = new double[runs.Length];
            Array.Fill(best, double.MaxValue);
            var times = new double[runs.Length][];
            for (int e = 0; e < runs.Length; e++) times[e] = new double[rounds];
            for (int round = 0; round < rounds; round++)
            {
                for (int e = 0; e < runs.Length; e++)
                {
                    // Alone, every engine leads in turn. Beside a baseline, each build runs right after the other
                    // (the order flips every round) and ONNX Runtime last, followed by a pause for its workers'
                    // spinning to end before the next round: no build always runs after ONNX Runtime.
                    int which = baseline is null ? (round + e) % runs.Length : PairedOrder[round % 2][e];
                    start = Stopwatch.GetTimestamp();
                    for (int i = 0; i < reps; i++) runs[which]();
                    times[which][round] = Stopwatch.GetElapsedTime(start).TotalSeconds / reps;
                    best[which] = Math.Min(best[which], times[which][round]);
                    if (baseline is not null && which == 2) Thread.Sleep(10);
                }
            }

            suite.Cleanup();
            string rate(int i) => (shape.Flops / best[i] / 1e9).ToString("F1", CultureInfo.InvariantCulture);
            // Between the builds, beside the ratio of the fastest batches, the median of the rounds' ratios: each round
            // runs the two builds back to back, so a round's ratio compares them under the same load. ONNX Runtime, run
            // after a pause, is compared by its fastest batch only.
            string ratio(int x, int y) => string.Create(
                CultureInfo.InvariantCulture,
                $"{best[x] / best[y]:F2} (median {Median(times[x].Zip(times[y], (p, q) => p / q)):F2})");
            Console.WriteLine(baseline is null
                ? string.Create(CultureInfo.InvariantCulture, $"| {shape} | {rate(0)} | {rate(1)} | {rate(2)} | {rate(3)} | {best[0] / best[2]:F2} |")
                : string.Create(CultureInfo.InvariantCulture, $"| {shape} | {rate(0)} | {rate(1)} | {rate(3)} | {rate(4)} | {rate(2)} | {rate(5)} | {rate(6)} | {best[0] / best[2]:F2} | {ratio(0, 3)} | {ratio(1, 4)} | {ratio(5, 6)} |"));
        }
    }

    // Engines: 0 Candle, 1 Candle pre-packed, 2 ONNX Runtime, 3 baseline, 4 baseline pre-packed, 5 Candle pre-packed
    // with B from memory, 6 the baseline's.
    private static readonly int[][] PairedOrder = [[0, 3, 1, 4, 5, 6, 2], [3, 0, 4, 1, 6, 5, 2]];

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    // The independent-FMA loop on each of the threads at once, the fastest of the rounds.
    private static double FmaPeak(int threads, int rounds)
    {
        using var pool = Runtime.Threading.WorkerPool.Create(threads);
        var body = new FmaBody();
        double best = double.MaxValue;
        for (int round = 0; round < Math.Max(3, rounds / 4); round++)
        {
            long start = Stopwatch.GetTimestamp();
            pool.ParallelFor(threads, ref body);
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }

        return threads * Peak.PeakBenchmarks.FmaLoopFlops / best / 1e9;
    }

    // The microkernel alone: one 192-deep pair of packed panels multiplied over and over into one tile.
    private static double MicroKernelRate(int rounds)
    {
        const int kc = 192;
        float* a = (float*)NativeMemory.AlignedAlloc(kc * 16 * sizeof(float), 64);
        float* b = (float*)NativeMemory.AlignedAlloc(kc * 32 * sizeof(float), 64);
        float* c = (float*)NativeMemory.AlignedAlloc(16 * 64 * sizeof(float), 64);
        for (int i = 0; i < kc * 16; i++) a[i] = 1e-3f * (i % 7);
        for (int i = 0; i < kc * 32; i++) b[i] = 1e-3f * (i % 5);
        int mr = SgemmKernelSelector.PanelHeight(SgemmKernelSelector.Best), nr = SgemmKernelSelector.PanelWidth(SgemmKernelSelector.Best);
        const int calls = 20000;
        double best = double.MaxValue;
        for (int round = 0; round < rounds; round++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < calls; i++)
            {
                switch (SgemmKernelSelector.Best)
                {
                    case SgemmKernelKind.Vector256: MicroKernel256.Run(kc, a, b, c, 64, GemmStoreMode.Overwrite, 0f); break;
                    case SgemmKernelKind.Vector512: MicroKernel512.Run(kc, a, b, c, 64, GemmStoreMode.Overwrite, 0f); break;
                    default: MicroKernelScalar.Run(kc, a, b, c, 64, GemmStoreMode.Overwrite, 0f); break;
                }
            }

            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }

        NativeMemory.AlignedFree(a);
        NativeMemory.AlignedFree(b);
        NativeMemory.AlignedFree(c);
        return 2.0 * mr * nr * kc * calls / best / 1e9;
    }

    private struct FmaBody : Runtime.Threading.IParallelBody
    {
        public float Sink;

        public void Invoke(int start, int end)
        {
            for (int i = start; i < end; i++) Sink += Peak.PeakBenchmarks.FmaLoop();
        }
    }
}
