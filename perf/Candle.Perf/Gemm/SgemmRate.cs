using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Candle.Runtime.Kernels.Gemm;

namespace Candle.Perf.Gemm;

/// <summary>
/// <c>sgemm-rate [rounds] [--threads N]</c>: GFLOP/s of <see cref="SgemmBenchmarks"/>' Candle SGEMM (B packed per call
/// and pre-packed) and ONNX Runtime's MatMul on N threads (two unless given), for each shape of its list (or
/// <c>CANDLE_PERF_SHAPES</c>), the three alternating batch by batch in one process; the fastest batch of each over the
/// rounds. First, the machine's FMA peak on one and on N threads (<see cref="Peak.PeakBenchmarks"/>' loop) and the
/// microkernel's own rate on one thread, its packed panels in L1 (the ceiling of the blocked driver).
/// </summary>
internal static unsafe class SgemmRate
{
    public static void Run(string[] args)
    {
        int t = Array.IndexOf(args, "--threads");
        int threads = t >= 0 && t + 1 < args.Length ? int.Parse(args[t + 1], CultureInfo.InvariantCulture) : 2;
        string[] rest = t >= 0 ? [.. args[..t], .. args[Math.Min(args.Length, t + 2)..]] : args;
        int rounds = rest is [var r] ? int.Parse(r, CultureInfo.InvariantCulture) : 20;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"// FMA peak: {FmaPeak(1, rounds):F1} GFLOP/s on one thread, {FmaPeak(threads, rounds):F1} on {threads}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"// {Sgemm.KernelName} on panels in L1, one thread: {MicroKernelRate(5 * rounds):F1} GFLOP/s"));
        Console.WriteLine($"{threads} thread(s)");
        Console.WriteLine($"| shape | Candle (GFLOP/s) | Candle, B pre-packed | ONNX Runtime | Candle / ORT time |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        foreach (var shape in SgemmBenchmarks.Shapes)
        {
            var suite = new SgemmBenchmarks { Shape = shape, Threads = threads };
            suite.Setup();
            Action[] runs = [suite.CandleSgemm, suite.CandlePackedB, suite.OnnxRuntime];
            foreach (var run in runs) run();
            var start = Stopwatch.GetTimestamp();
            suite.CandleSgemm();
            double once = Stopwatch.GetElapsedTime(start).TotalSeconds;
            int reps = (int)Math.Clamp(0.002 / Math.Max(once, 1e-7), 1, 10000);
            var best = new double[runs.Length];
            Array.Fill(best, double.MaxValue);
            for (int round = 0; round < rounds; round++)
            {
                for (int e = 0; e < runs.Length; e++)
                {
                    int which = (round + e) % runs.Length;
                    start = Stopwatch.GetTimestamp();
                    for (int i = 0; i < reps; i++) runs[which]();
                    best[which] = Math.Min(best[which], Stopwatch.GetElapsedTime(start).TotalSeconds / reps);
                }
            }

            suite.Cleanup();
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {shape} | {shape.Flops / best[0] / 1e9:F1} | {shape.Flops / best[1] / 1e9:F1} | {shape.Flops / best[2] / 1e9:F1} | {best[0] / best[2]:F2} |"));
        }
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
