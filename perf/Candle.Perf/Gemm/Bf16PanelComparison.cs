using System.Diagnostics;
using System.Runtime.InteropServices;
using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Threading;

namespace Candle.Perf.Gemm;

/// <summary>
/// A bfloat16 weight multiplied from float32 panels (widened when packed: twice the bytes resident) and from panels
/// kept at bfloat16 width (widened as read), call by call in alternation on two threads, for decode (one row) and
/// prefill row counts: <c>dotnet run -c Release -- bf16-panels [rounds]</c>. Prints the fastest and the median time.
/// </summary>
public static unsafe class Bf16PanelComparison
{
    /// <summary>Runs the comparison.</summary>
    /// <param name="rounds">Calls of each form per shape.</param>
    public static void Run(int rounds)
    {
        using var pool = WorkerPool.Create(2);
        Console.WriteLine($"{"shape",-14} {"f32 panels min/med (us)",24} {"bf16 panels min/med (us)",25} {"ratio (min)",12}");
        foreach (var (m, n, k) in new[] { (1, 2048, 2048), (1, 5632, 2048), (32, 2048, 2048), (32, 5632, 2048), (128, 2048, 2048), (128, 2048, 5632) })
        {
            var rng = new Random(1);
            var w = (ushort*)NativeMemory.AlignedAlloc((nuint)((long)n * k * 2), 64);
            for (long i = 0; i < (long)n * k; i++) w[i] = (ushort)(BitConverter.SingleToUInt32Bits((float)(rng.NextDouble() - 0.5)) >> 16);
            var wide = (float*)NativeMemory.AlignedAlloc((nuint)((long)n * k * 4), 64);
            for (long i = 0; i < (long)n * k; i++) wide[i] = BitConverter.Int32BitsToSingle(w[i] << 16);
            var a = (float*)NativeMemory.AlignedAlloc((nuint)((long)m * k * 4), 64);
            for (long i = 0; i < (long)m * k; i++) a[i] = (float)(rng.NextDouble() - 0.5);
            var c = (float*)NativeMemory.AlignedAlloc((nuint)((long)m * n * 4), 64);
            using var f32 = Sgemm.PackB(wide, k, n, 1, k);
            using var bf16 = Bf16Packing.PackB(SgemmKernelSelector.Best, w, k, n, 1, k);
            var t32 = new double[rounds];
            var t16 = new double[rounds];
            for (int i = -3; i < rounds; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                Sgemm.Multiply(m, a, k, 1, f32, c, n, pool: pool);
                long t1 = Stopwatch.GetTimestamp();
                Sgemm.Multiply(m, a, k, 1, bf16, c, n, pool: pool);
                long t2 = Stopwatch.GetTimestamp();
                if (i < 0) continue;
                t32[i] = (t1 - t0) * 1e6 / Stopwatch.Frequency;
                t16[i] = (t2 - t1) * 1e6 / Stopwatch.Frequency;
            }

            Array.Sort(t32);
            Array.Sort(t16);
            Console.WriteLine($"{$"{m}x{n}x{k}",-14} {t32[0],11:F0} / {t32[rounds / 2],-10:F0} {t16[0],12:F0} / {t16[rounds / 2],-10:F0} {t16[0] / t32[0],12:F2}");
            NativeMemory.AlignedFree(w);
            NativeMemory.AlignedFree(wide);
            NativeMemory.AlignedFree(a);
            NativeMemory.AlignedFree(c);
        }
    }
}
