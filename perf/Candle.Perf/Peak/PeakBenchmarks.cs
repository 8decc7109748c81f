using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using Candle.Perf.Infrastructure;
using Candle.Runtime.Threading;

namespace Candle.Perf.Peak;

/// <summary>
/// The machine's ceilings: fp32 FMA throughput on one and two threads (an unrolled loop of independent
/// vector FMAs: 512-bit where accelerated, else 256-bit) and the STREAM triad bandwidth on two threads.
/// </summary>
[Config(typeof(ShortThroughputConfig))]
public unsafe class PeakBenchmarks
{
    private const int FmaIterations = 4_000_000;
    private const int FmaPerIteration = 12;
    private const int TriadLength = 8 << 20;

    // The FLOP counts in the attributes assume 16 lanes; on a 256-bit machine the loop runs twice the
    // iterations so the work per invocation stays the same.
    private const double FmaFlops = 2.0 * 16 * FmaPerIteration * FmaIterations;

    /// <summary>The floating-point operations of one <see cref="FmaLoop"/> call.</summary>
    internal const double FmaLoopFlops = FmaFlops;

    private WorkerPool _pool = null!;
    private float* _a;
    private float* _b;
    private float* _c;

    [GlobalSetup]
    public void Setup()
    {
        _pool = WorkerPool.Create(2);
        nuint bytes = TriadLength * sizeof(float);
        _a = (float*)NativeMemory.AlignedAlloc(bytes, 64);
        _b = (float*)NativeMemory.AlignedAlloc(bytes, 64);
        _c = (float*)NativeMemory.AlignedAlloc(bytes, 64);
        for (int i = 0; i < TriadLength; i++)
        {
            _a[i] = 0;
            _b[i] = i;
            _c[i] = 1;
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool.Dispose();
        NativeMemory.AlignedFree(_a);
        NativeMemory.AlignedFree(_b);
        NativeMemory.AlignedFree(_c);
    }

    [Benchmark]
    [Work(Flops = FmaFlops)]
    public float FmaOneThread() => FmaLoop();

    [Benchmark]
    [Work(Flops = 2 * FmaFlops)]
    public float FmaTwoThreads()
    {
        var body = new FmaBody();
        _pool.ParallelFor(2, ref body);
        return body.Sink;
    }

    [Benchmark]
    [Work(Bytes = 3.0 * sizeof(float) * TriadLength)]
    public void TriadTwoThreads()
    {
        var body = new TriadBody { A = _a, B = _b, C = _c, Length = TriadLength };
        _pool.ParallelFor(64, ref body);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static float FmaLoop()
    {
        if (Vector512.IsHardwareAccelerated)
        {
            var x = Vector512.Create(1.000001f);
            var y = Vector512.Create(0.999999f);
            Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
            Vector512<float> c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
            for (int i = 0; i < FmaIterations; i++)
            {
                c0 = Vector512.FusedMultiplyAdd(x, y, c0);
                c1 = Vector512.FusedMultiplyAdd(x, y, c1);
                c2 = Vector512.FusedMultiplyAdd(x, y, c2);
                c3 = Vector512.FusedMultiplyAdd(x, y, c3);
                c4 = Vector512.FusedMultiplyAdd(x, y, c4);
                c5 = Vector512.FusedMultiplyAdd(x, y, c5);
                c6 = Vector512.FusedMultiplyAdd(x, y, c6);
                c7 = Vector512.FusedMultiplyAdd(x, y, c7);
                c8 = Vector512.FusedMultiplyAdd(x, y, c8);
                c9 = Vector512.FusedMultiplyAdd(x, y, c9);
                c10 = Vector512.FusedMultiplyAdd(x, y, c10);
                c11 = Vector512.FusedMultiplyAdd(x, y, c11);
            }

            return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
        }
        else
        {
            var x = Vector256.Create(1.000001f);
            var y = Vector256.Create(0.999999f);
            Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
            Vector256<float> c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
            for (int i = 0; i < 2 * FmaIterations; i++)
            {
                c0 = Vector256.FusedMultiplyAdd(x, y, c0);
                c1 = Vector256.FusedMultiplyAdd(x, y, c1);
                c2 = Vector256.FusedMultiplyAdd(x, y, c2);
                c3 = Vector256.FusedMultiplyAdd(x, y, c3);
                c4 = Vector256.FusedMultiplyAdd(x, y, c4);
                c5 = Vector256.FusedMultiplyAdd(x, y, c5);
                c6 = Vector256.FusedMultiplyAdd(x, y, c6);
                c7 = Vector256.FusedMultiplyAdd(x, y, c7);
                c8 = Vector256.FusedMultiplyAdd(x, y, c8);
                c9 = Vector256.FusedMultiplyAdd(x, y, c9);
                c10 = Vector256.FusedMultiplyAdd(x, y, c10);
                c11 = Vector256.FusedMultiplyAdd(x, y, c11);
            }

            return Vector256.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
        }
    }

    private struct FmaBody : IParallelBody
    {
        public float Sink;

        public void Invoke(int start, int end)
        {
            for (int i = start; i < end; i++)
            {
                Sink += FmaLoop();
            }
        }
    }

    private struct TriadBody : IParallelBody
    {
        public float* A;
        public float* B;
        public float* C;
        public int Length;

        public readonly void Invoke(int start, int end)
        {
            int chunk = Length / 64;
            var s = Vector256.Create(3f);
            for (int part = start; part < end; part++)
            {
                float* a = A + ((long)part * chunk);
                float* b = B + ((long)part * chunk);
                float* c = C + ((long)part * chunk);
                for (int i = 0; i < chunk; i += 8)
                {
                    Vector256.FusedMultiplyAdd(s, Vector256.Load(c + i), Vector256.Load(b + i)).Store(a + i);
                }
            }
        }
    }
}
