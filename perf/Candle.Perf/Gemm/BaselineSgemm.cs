using System.Reflection;
using Candle.Perf.Interleaved;

namespace Candle.Perf.Gemm;

/// <summary>
/// The SGEMM of an earlier build of this project (its output directory), loaded beside the current one in its own
/// <see cref="BuildLoadContext"/> so that <see cref="SgemmRate"/> can time both builds interleaved in one process: B
/// packed per call and pre-packed, on a pool of the old build with the same number of threads.
/// </summary>
internal sealed unsafe class BaselineSgemm : IDisposable
{
    private readonly MethodInfo _multiply;
    private readonly MethodInfo _multiplyPacked;
    private readonly MethodInfo _packB;
    private readonly IDisposable _pool;
    private IDisposable? _packed;
    private IDisposable[] _cold = [];
    private int _coldNext;
    private object?[] _callArgs = [];
    private object?[] _packedArgs = [];

    public BaselineSgemm(string directory, int threads)
    {
        string full = Path.GetFullPath(directory);
        if (!File.Exists(Path.Combine(full, "Candle.Runtime.dll")))
        {
            throw new ArgumentException($"--baseline {directory}: no Candle.Runtime.dll there (give a build's output directory, such as perf/Candle.Perf/bin/Release/net10.0)");
        }

        var context = new BuildLoadContext("baseline-sgemm", full);
        var runtime = context.LoadFromAssemblyName(new AssemblyName("Candle.Runtime"));
        var sgemm = runtime.GetType("Candle.Runtime.Kernels.Gemm.Sgemm", throwOnError: true)!;
        var poolType = runtime.GetType("Candle.Runtime.Threading.WorkerPool", throwOnError: true)!;
        var packedType = runtime.GetType("Candle.Runtime.Kernels.Gemm.PackedB", throwOnError: true)!;
        _pool = (IDisposable)poolType.GetMethod("Create", [typeof(int)])!.Invoke(null, [threads])!;
        var fp = typeof(float*);
        _multiply = sgemm.GetMethod("Multiply", [typeof(int), typeof(int), typeof(int), fp, typeof(int), typeof(int), fp, typeof(int), typeof(int), fp, typeof(int), typeof(float), typeof(float), poolType])!;
        _multiplyPacked = sgemm.GetMethod("Multiply", [typeof(int), fp, typeof(int), typeof(int), packedType, fp, typeof(int), typeof(float), typeof(float), poolType])!;
        _packB = sgemm.GetMethod("PackB", [fp, typeof(int), typeof(int), typeof(int), typeof(int)])!;
    }

    /// <summary>Binds the operands of one shape (row-major A[M, K], B[K, N], C[M, N]) and packs B once.</summary>
    public void Bind(GemmShape shape, float* a, float* b, float* c)
    {
        _packed?.Dispose();
        int m = shape.M, n = shape.N, k = shape.K;
        object Ptr(float* p) => Pointer.Box(p, typeof(float*));
        _packed = (IDisposable)_packB.Invoke(null, [Ptr(b), k, n, n, 1])!;
        foreach (var copy in _cold) copy.Dispose();
        int copies = (int)Math.Clamp((128L << 20) / Math.Max(4L * k * n, 1), 2, 4096);
        _cold = [.. Enumerable.Range(0, copies).Select(_ => (IDisposable)_packB.Invoke(null, [Ptr(b), k, n, n, 1])!)];
        _coldNext = 0;
        _callArgs = [m, n, k, Ptr(a), k, 1, Ptr(b), n, 1, Ptr(c), n, 1f, 0f, _pool];
        _packedArgs = [m, Ptr(a), k, 1, _packed, Ptr(c), n, 1f, 0f, _pool];
    }

    /// <summary>C = A · B with B packed in the call.</summary>
    public void Multiply() => _multiply.Invoke(null, _callArgs);

    /// <summary>C = A · B with B packed by <see cref="Bind"/>, a different copy of it each call from copies filling 128 MB.</summary>
    public void MultiplyPackedCold()
    {
        _packedArgs[4] = _cold[_coldNext];
        _coldNext = (_coldNext + 1) % _cold.Length;
        _multiplyPacked.Invoke(null, _packedArgs);
        _packedArgs[4] = _packed;
    }

    /// <summary>C = A · B with B packed by <see cref="Bind"/>.</summary>
    public void MultiplyPacked() => _multiplyPacked.Invoke(null, _packedArgs);

    public void Dispose()
    {
        _packed?.Dispose();
        foreach (var copy in _cold) copy.Dispose();
        _pool.Dispose();
    }
}
