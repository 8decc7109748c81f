using System.Runtime.InteropServices;
using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using Candle.Perf.Infrastructure;
using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Threading;
using Microsoft.ML.OnnxRuntime;

namespace Candle.Perf.Gemm;

/// <summary>
/// SGEMM C = A * B (row-major, fresh B each call so every implementation packs it) on <see cref="Threads"/> threads
/// (two unless set): Candle's <see cref="Sgemm"/>, a TensorPrimitives row-times-matrix loop, and ONNX Runtime's MatMul
/// (a one-node model built in code, IntraOpNumThreads the same); plus Candle with B pre-packed.
/// </summary>
[Config(typeof(ShortThroughputConfig))]
public unsafe class SgemmBenchmarks
{
    private WorkerPool _pool = null!;
    private float* _a;
    private float* _b;
    private float* _c;
    private float[] _aArray = [];
    private float[] _bArray = [];
    private float[] _cArray = [];
    private GCHandle _aHandle;
    private GCHandle _bHandle;
    private GCHandle _cHandle;
    private PackedB _packed = null!;
    private PackedB[] _coldCopies = [];
    private int _coldNext;
    private InferenceSession _session = null!;
    private SessionOptions _options = null!;
    private RunOptions _runOptions = null!;
    private OrtValue[] _inputs = [];
    private OrtValue[] _outputs = [];

    /// <summary>
    /// The shapes measured; the environment variable CANDLE_PERF_SHAPES (e.g. <c>1024x1024x1024,1x5632x2048</c>)
    /// restricts or replaces them.
    /// </summary>
    public static IEnumerable<GemmShape> Shapes
    {
        get
        {
            string? selected = Environment.GetEnvironmentVariable("CANDLE_PERF_SHAPES");
            if (!string.IsNullOrWhiteSpace(selected))
            {
                return selected.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(GemmShape.Parse)
                    .ToArray();
            }

            return
            [
                new(256, 256, 256),
                new(512, 512, 512),
                new(1024, 1024, 1024),
                new(2048, 2048, 2048),
                new(1, 2048, 5632),
                new(1, 5632, 2048),
                new(128, 2048, 2048),
            ];
        }
    }

    /// <summary>A (row-major, M x K) once <see cref="Setup"/> ran.</summary>
    internal float* A => _a;

    /// <summary>B (row-major, K x N) once <see cref="Setup"/> ran.</summary>
    internal float* B => _b;

    /// <summary>C (row-major, M x N) once <see cref="Setup"/> ran.</summary>
    internal float* C => _c;

    [ParamsSource(nameof(Shapes))]
    public GemmShape Shape { get; set; } = new(1024, 1024, 1024);

    /// <summary>The threads every engine uses (Candle's pool, ORT's intra-op threads, the TensorPrimitives loop).</summary>
    public int Threads { get; set; } = 2;

    [GlobalSetup]
    public void Setup()
    {
        _pool = WorkerPool.Create(Threads);
        int m = Shape.M, n = Shape.N, k = Shape.K;
        var rng = new Random(42);
        _aArray = Enumerable.Range(0, m * k).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        _bArray = Enumerable.Range(0, k * n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        _cArray = new float[m * n];
        _aHandle = GCHandle.Alloc(_aArray, GCHandleType.Pinned);
        _bHandle = GCHandle.Alloc(_bArray, GCHandleType.Pinned);
        _cHandle = GCHandle.Alloc(_cArray, GCHandleType.Pinned);
        _a = (float*)_aHandle.AddrOfPinnedObject();
        _b = (float*)_bHandle.AddrOfPinnedObject();
        _c = (float*)_cHandle.AddrOfPinnedObject();
        _packed = Sgemm.PackB(_b, k, n, n, 1);

        _options = new SessionOptions
        {
            IntraOpNumThreads = Threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(OnnxMatMulModel.Create(m, n, k), _options);
        _runOptions = new RunOptions();
        _inputs =
        [
            OrtValue.CreateTensorValueFromMemory(_aArray, [m, k]),
            OrtValue.CreateTensorValueFromMemory(_bArray, [k, n]),
        ];
        _outputs = [OrtValue.CreateTensorValueFromMemory(_cArray, [m, n])];

        Console.WriteLine($"// Candle SGEMM microkernel: {Sgemm.KernelName}");
        CrossCheck();
    }

    // The peers must compute the same product: report the largest difference from Candle's result.
    private void CrossCheck()
    {
        CandleSgemm();
        var reference = (float[])_cArray.Clone();
        var results = new List<string>();
        foreach (var (name, run) in new (string, Action)[] { ("packed", CandlePackedB), ("TensorPrimitives", TensorPrimitivesRows), ("ORT", OnnxRuntime) })
        {
            Array.Clear(_cArray);
            run();
            float diff = 0;
            for (int i = 0; i < reference.Length; i++)
            {
                diff = MathF.Max(diff, MathF.Abs(reference[i] - _cArray[i]));
            }

            results.Add($"{name} {diff:g3}");
        }

        Console.WriteLine($"// {Shape}: max |difference| from Candle: {string.Join(", ", results)}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var v in _inputs.Concat(_outputs))
        {
            v.Dispose();
        }

        _runOptions.Dispose();
        _session.Dispose();
        _options.Dispose();
        _packed.Dispose();
        foreach (var copy in _coldCopies) copy.Dispose();
        _coldCopies = [];
        _pool.Dispose();
        _aHandle.Free();
        _bHandle.Free();
        _cHandle.Free();
    }

    [Benchmark(Baseline = true)]
    public void CandleSgemm()
    {
        int m = Shape.M, n = Shape.N, k = Shape.K;
        Sgemm.Multiply(m, n, k, _a, k, 1, _b, n, 1, _c, n, pool: _pool);
    }

    [Benchmark]
    public void CandlePackedB()
    {
        Sgemm.Multiply(Shape.M, _a, Shape.K, 1, _packed, _c, Shape.N, pool: _pool);
    }

    /// <summary>
    /// Candle with B pre-packed, a different copy of it each call from enough copies to fill 128 MB: the panels come from
    /// memory (or a far cache), as a model's weights do when each is read once per run.
    /// </summary>
    public void CandlePackedBCold()
    {
        if (_coldCopies.Length == 0)
        {
            long bytes = 4L * Shape.K * Shape.N;
            int copies = (int)Math.Clamp((128L << 20) / Math.Max(bytes, 1), 2, 4096);
            _coldCopies = Enumerable.Range(0, copies).Select(_ => Sgemm.PackB(_b, Shape.K, Shape.N, Shape.N, 1)).ToArray();
        }

        var packed = _coldCopies[_coldNext];
        _coldNext = (_coldNext + 1) % _coldCopies.Length;
        Sgemm.Multiply(Shape.M, _a, Shape.K, 1, packed, _c, Shape.N, pool: _pool);
    }

    [Benchmark]
    public void TensorPrimitivesRows()
    {
        int m = Shape.M, n = Shape.N, k = Shape.K;
        float[] a = _aArray, b = _bArray, c = _cArray;
        Parallel.For(0, m, new ParallelOptions { MaxDegreeOfParallelism = Threads }, i =>
        {
            var row = c.AsSpan(i * n, n);
            row.Clear();
            for (int p = 0; p < k; p++)
            {
                TensorPrimitives.MultiplyAdd(b.AsSpan(p * n, n), a[(i * k) + p], row, row);
            }
        });
    }

    [Benchmark]
    public void OnnxRuntime()
    {
        _session.Run(_runOptions, ["A", "B"], _inputs, ["C"], _outputs);
    }
}
