using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Threading;

namespace Candle.Runtime.Tests.Gemm;

/// <summary>
/// The blocked driver's sweep over panels and k steps (the next panel block fetched ahead while a unit sweeps one,
/// across panels and from a k step's last panel to the next step's first), checked against the double-precision oracle
/// on one and two threads, with B packed per call and pre-packed, alpha, beta and a bias epilogue, at shapes whose M, N
/// and K are not multiples of the tiles and whose K takes several steps.
/// </summary>
public unsafe class SgemmPanelSweepTests
{
    private static readonly WorkerPool One = WorkerPool.Create(1);
    private static readonly WorkerPool Two = WorkerPool.Create(2);

    public static TheoryData<int, int, int, bool> Shapes => new()
    {
        { 128, 391, 600, false },
        { 36, 300, 500, true },
        { 13, 100, 300, false },
        { 131, 65, 37, true },
        { 191, 700, 260, false },
        { 100, 3100, 90, false },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void EveryPanelAndDepthStepMatchesTheOracle(int m, int n, int k, bool aT)
    {
        foreach (var kind in new[] { SgemmKernelKind.Vector512, SgemmKernelKind.Vector256, SgemmKernelKind.Scalar })
        {
            foreach (var pool in new[] { One, Two })
            {
                foreach (var (alpha, beta) in new[] { (1f, 0f), (-0.5f, 0.25f) })
                {
                    foreach (bool prepacked in new[] { false, true })
                    {
                        Check(kind, pool, prepacked, m, n, k, aT, alpha, beta, (m * 7) + n + k);
                    }
                }
            }
        }
    }

    private static void Check(SgemmKernelKind kind, WorkerPool pool, bool prepacked, int m, int n, int k, bool aT, float alpha, float beta, int seed)
    {
        var rng = new Random(seed);
        var a = new GemmTestMatrix(m, k, aT, 1, rng);
        var b = new GemmTestMatrix(k, n, false, 0, rng);
        int ldc = n + 2;
        var c = new float[m * ldc];
        for (int i = 0; i < c.Length; i++)
        {
            c[i] = beta == 0 ? float.NaN : (float)rng.NextDouble();
        }

        for (int i = 0; i < m; i++)
        {
            c[(i * ldc) + n] = c[(i * ldc) + n + 1] = 7f;
        }

        var bias = Enumerable.Range(0, n).Select(j => ((j % 11) - 5) * 0.25f).ToArray();
        var c0 = (float[])c.Clone();
        var (expected, tol) = GemmOracle.Compute(a, b, c0, ldc, alpha, beta);
        fixed (float* pa = a.Data)
        fixed (float* pb = b.Data)
        fixed (float* pc = c)
        fixed (float* pbias = bias)
        {
            var epi = new BiasEpilogue(pbias);
            if (prepacked)
            {
                using var packed = Sgemm.PackB(kind, pb, k, n, b.RowStride, b.ColStride);
                Sgemm.MultiplyPackedCore(SgemmPath.Packed, m, pa, a.RowStride, a.ColStride, packed, pc, ldc, in epi, alpha, beta, pool);
            }
            else
            {
                Sgemm.MultiplyCore(kind, SgemmPath.Packed, m, n, k, pa, a.RowStride, a.ColStride, pb, b.RowStride, b.ColStride, pc, ldc, in epi, alpha, beta, pool);
            }
        }

        string what = $"{kind} {pool.Threads} thread(s) {(prepacked ? "pre-packed" : "packed per call")} {m}x{n}x{k} aT={aT} alpha={alpha} beta={beta}";
        GemmOracle.AssertClose(
            expected.Select((e, idx) => e + bias[idx % n]).ToArray(), tol.Select(t => t + 1e-6).ToArray(), c, m, n, ldc, what);
        for (int i = 0; i < m; i++)
        {
            Assert.True(c[(i * ldc) + n] == 7f && c[(i * ldc) + n + 1] == 7f, $"{what}: row {i}'s padding was written");
        }
    }
}
