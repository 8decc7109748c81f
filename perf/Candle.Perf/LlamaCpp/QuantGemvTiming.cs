using System.Diagnostics;
using System.Globalization;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Threading;

namespace Candle.Perf.LlamaCpp;

/// <summary>
/// <c>quant-gemv [--mb MB] [--reps R] [--k K] [q8_0|q4_k|q5_k|q6_k]</c>: one Q4_0 (or Q8_0, Q4_K, Q5_K, Q6_K)
/// matrix-vector product ([1, K] × [N, K]ᵀ, K = 2048 unless given, N rows filling <c>MB</c> megabytes, 2 threads)
/// through the single-row integer dot (<see cref="QuantRowDot"/>), for Q4_0 / Q8_0 the 1 × 4 tile
/// (<see cref="QuantTileDot"/>) and the 8-row GEMV (<see cref="QuantGemv"/>), for the k-quants their multi-row GEMV
/// (<see cref="KQuantGemv"/>), alternating, with the bytes read per second of each; a 6 MB matrix stays in the last-level
/// cache, a 600 MB one (a 1.1B model's decode step) does not.
/// </summary>
public static unsafe class QuantGemvTiming
{
    public static int Run(string[] args)
    {
        int mb = Int(args, "--mb", 600), reps = Int(args, "--reps", 7), k = Int(args, "--k", 2048);
        var type = args.Contains("q8_0") ? GgmlType.Q8_0 : args.Contains("q4_k") ? GgmlType.Q4_K : args.Contains("q5_k") ? GgmlType.Q5_K
            : args.Contains("q6_k") ? GgmlType.Q6_K : GgmlType.Q4_0;
        var format = QuantActivations.VecDotType(type);
        int bs = GgmlTypeTraits.BlockSize(type), bb = GgmlTypeTraits.BlockBytes(type);
        int nb = k / bs, nb32 = k / 32;
        int rowBytes = nb * bb;
        int n = (int)((long)mb * 1000 * 1000 / rowBytes / 32 * 32);
        var rng = new Random(1);
        var weights = GC.AllocateUninitializedArray<byte>(n * rowBytes, pinned: true);
        int chunkBlocks = (1 << 20) / bb;
        var chunk = new byte[chunkBlocks * bb];
        var vals = new float[chunkBlocks * bs];
        for (int i = 0; i < vals.Length; i++) vals[i] = (rng.NextSingle() * 2) - 1;
        GgmlTypeTraits.Quantize(type, vals, chunk);
        for (long o = 0; o < weights.Length; o += chunk.Length)
        {
            chunk.AsSpan(0, (int)Math.Min(chunk.Length, weights.Length - o)).CopyTo(weights.AsSpan((int)o));
        }

        var x = new float[k];
        for (int i = 0; i < k; i++) x[i] = (rng.NextSingle() * 2) - 1;
        var xq = new byte[QuantActivations.RowBytes(format, k)];
        QuantActivations.Quantize(format, x, xq);
        bool legacy = format == GgmlType.Q8_0;
        var offsets = new int[nb32 * 8];
        var prepared = new int[nb32 * QuantGemv.PreparedInts];
        var y = new float[n];
        using var pool = WorkerPool.Create(2);
        fixed (byte* wp = weights)
        fixed (byte* ap = xq)
        fixed (int* op = offsets)
        fixed (int* pp = prepared)
        fixed (float* yp = y)
        {
            byte* w = wp, a = ap;
            int* off = op, pr = pp;
            float* yy = yp;
            if (legacy)
            {
                QuantTileDot.NibbleOffsets(a, nb32, off);
                QuantGemv.Prepare(a, nb32, pr);
            }

            (string Name, Action<int, int> Body)[] kernels = legacy
                ? [
                    ("single-row dot", (s, e) => { for (int j = s * 8; j < e * 8; j++) yy[j] = QuantRowDot.Dot(type, w + ((long)j * rowBytes), a, nb); }),
                    ("1x4 tile", (s, e) => { for (int j = s * 8; j < e * 8; j += 4) QuantTileDot.Tile1x4(type, w + ((long)j * rowBytes), rowBytes, a, off, nb, yy + j); }),
                    ("8-row gemv", (s, e) => QuantGemv.Run(type, w + ((long)s * 8 * rowBytes), rowBytes, a, pr, nb, yy + (s * 8), (e - s) * 8)),
                ]
                : [
                    ("single-row dot", (s, e) => { for (int j = s * 8; j < e * 8; j++) yy[j] = QuantRowDot.Dot(type, w + ((long)j * rowBytes), a, nb); }),
                    ("k-quant gemv", (s, e) => KQuantGemv.Run(type, w + ((long)s * 8 * rowBytes), rowBytes, a, nb, yy + (s * 8), (e - s) * 8)),
                ];
            kernels = [.. kernels, ("read (sum)", (s, e) =>
            {
                var acc = System.Runtime.Intrinsics.Vector256<byte>.Zero;
                byte* p = w + ((long)s * 8 * rowBytes), end = w + ((long)e * 8 * rowBytes) - 128;
                for (; p <= end; p += 128)
                {
                    acc += System.Runtime.Intrinsics.Vector256.Load(p) + System.Runtime.Intrinsics.Vector256.Load(p + 32)
                        + System.Runtime.Intrinsics.Vector256.Load(p + 64) + System.Runtime.Intrinsics.Vector256.Load(p + 96);
                }

                yy[s] = acc[0];
            })];
            var times = kernels.Select(_ => new List<double>()).ToArray();
            var check = new float[kernels.Length];
            for (int r = 0; r <= reps; r++)
            {
                for (int i = 0; i < kernels.Length; i++)
                {
                    var body = kernels[i].Body;
                    var sw = Stopwatch.StartNew();
                    pool.ParallelFor(n / 8, body);
                    if (r > 0) times[i].Add(sw.Elapsed.TotalMilliseconds);
                    check[i] = y[n - 1] + y[n / 2];
                }
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{type} [1, {k}] x [{n}, {k}]^T ({(long)n * rowBytes / 1e6:F0} MB), 2 threads, {reps} alternating repeats:"));
            for (int i = 0; i < kernels.Length; i++)
            {
                var t = times[i].Order().ToArray();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {kernels[i].Name,-16} min {t[0]:F2} ms, median {t[t.Length / 2]:F2} ms, {(long)n * rowBytes / t[0] / 1e6:F1} GB/s at the min  (check {check[i]:G6})"));
            }
        }

        return 0;
    }

    private static int Int(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
