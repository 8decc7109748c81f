using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Candle.Perf.Infrastructure;
using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Threading;

namespace Candle.Perf.Gemm;

/// <summary>
/// The one-row product of decode, y[N] = x[K] · Wᵀ for a linear layer's weight W[N, K], on two threads: read where the
/// weight lies (row dot products, what a decode-only process runs) and read from the packed panels a prefill made
/// (what decode runs once a prefill packed the weight, so that only one copy stays resident). Each multiply-add is two
/// operations and reads four bytes of the weight: GB/s is twice the GFLOP/s column.
/// </summary>
[Config(typeof(ShortThroughputConfig))]
public unsafe class GemvBenchmarks
{
    private WorkerPool _pool = null!;
    private float* _x;
    private float* _w;
    private float* _y;
    private PackedB _packed = null!;

    /// <summary>Decode shapes of a 1.1B Llama (M is always 1): q/o, gate/up, down and the vocabulary head.</summary>
    public static IEnumerable<GemmShape> Shapes =>
    [
        new(1, 2048, 2048),
        new(1, 5632, 2048),
        new(1, 2048, 5632),
        new(1, 32000, 2048),
    ];

    [ParamsSource(nameof(Shapes))]
    public GemmShape Shape { get; set; } = new(1, 2048, 2048);

    [GlobalSetup]
    public void Setup()
    {
        _pool = WorkerPool.Create(2);
        int n = Shape.N, k = Shape.K;
        var rng = new Random(42);
        _x = (float*)NativeMemory.AlignedAlloc((nuint)k * sizeof(float), 64);
        _w = (float*)NativeMemory.AlignedAlloc((nuint)((long)n * k * sizeof(float)), 64);
        _y = (float*)NativeMemory.AlignedAlloc((nuint)n * sizeof(float), 64);
        for (int p = 0; p < k; p++) _x[p] = (float)(rng.NextDouble() - 0.5);
        for (long i = 0; i < (long)n * k; i++) _w[i] = (float)(rng.NextDouble() - 0.5);
        _packed = Sgemm.PackB(_w, k, n, 1, k);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _packed.Dispose();
        NativeMemory.AlignedFree(_x);
        NativeMemory.AlignedFree(_w);
        NativeMemory.AlignedFree(_y);
        _pool.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void WeightAsStored() => Sgemm.Multiply(1, Shape.N, Shape.K, _x, Shape.K, 1, _w, 1, Shape.K, _y, Shape.N, pool: _pool);

    [Benchmark]
    public void PackedPanels() => Sgemm.Multiply(1, _x, Shape.K, 1, _packed, _y, Shape.N, pool: _pool);

    /// <summary>
    /// Alternates the two forms call by call on each shape and prints the fastest and the median time of each, which
    /// holds up better than means on a shared machine: <c>dotnet run -c Release -- gemv-compare [rounds]</c>.
    /// </summary>
    /// <param name="rounds">Calls of each form per shape.</param>
    public static void Compare(int rounds)
    {
        Console.WriteLine($"{"shape",-14} {"as stored min/med (us)",24} {"packed min/med (us)",22} {"packed GB/s (min)",18}");
        foreach (var shape in Shapes)
        {
            var bench = new GemvBenchmarks { Shape = shape };
            bench.Setup();
            var stored = new double[rounds];
            var packed = new double[rounds];
            for (int i = 0; i < 3; i++)
            {
                bench.WeightAsStored();
                bench.PackedPanels();
            }

            for (int i = 0; i < rounds; i++)
            {
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                bench.WeightAsStored();
                long t1 = System.Diagnostics.Stopwatch.GetTimestamp();
                bench.PackedPanels();
                long t2 = System.Diagnostics.Stopwatch.GetTimestamp();
                stored[i] = (t1 - t0) * 1e6 / System.Diagnostics.Stopwatch.Frequency;
                packed[i] = (t2 - t1) * 1e6 / System.Diagnostics.Stopwatch.Frequency;
            }

            bench.Cleanup();
            Array.Sort(stored);
            Array.Sort(packed);
            double gbs = 4.0 * shape.N * shape.K / (packed[0] * 1e3);
            Console.WriteLine($"{shape,-14} {stored[0],11:F0} / {stored[rounds / 2],-10:F0} {packed[0],10:F0} / {packed[rounds / 2],-9:F0} {gbs,18:F1}");
        }
    }
}
