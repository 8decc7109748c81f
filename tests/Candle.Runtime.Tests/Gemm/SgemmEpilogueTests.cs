using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Threading;

namespace Candle.Runtime.Tests.Gemm;

public unsafe class SgemmEpilogueTests
{
    private static readonly WorkerPool Pool = WorkerPool.Create(2);

    private readonly struct CoverageEpilogue(int[] visits, float* cBase, int ldcExpected) : IGemmEpilogue
    {
        public void Apply(float* c, int ldc, int row0, int col0, int rows, int cols)
        {
            if (ldc != ldcExpected || c != cBase + ((long)row0 * ldc) + col0)
            {
                throw new InvalidOperationException($"tile pointer does not match ({row0}, {col0})");
            }

            int n = visits.Length / 1000;
            for (int i = 0; i < rows; i++)
            {
                for (int j = 0; j < cols; j++)
                {
                    Interlocked.Increment(ref visits[((row0 + i) * 1000) + col0 + j]);
                }
            }
        }
    }

    // Asks for whole blocks; records each element's visits and its value when visited.
    private readonly struct BlockEpilogue(int[] visits, float[] seen, int[] calls, float* cBase, int n) : IGemmEpilogue
    {
        static bool IGemmEpilogue.PerBlock => true;

        public void Apply(float* c, int ldc, int row0, int col0, int rows, int cols)
        {
            if (ldc != n || c != cBase + ((long)row0 * ldc) + col0 || col0 < 0 || col0 + cols > n)
            {
                throw new InvalidOperationException($"block pointer does not match ({row0}, {col0}, {rows}x{cols})");
            }

            Interlocked.Increment(ref calls[0]);
            for (int i = 0; i < rows; i++)
            {
                for (int j = 0; j < cols; j++)
                {
                    long at = ((long)(row0 + i) * n) + col0 + j;
                    Interlocked.Increment(ref visits[at]);
                    seen[at] = c[(i * ldc) + j];
                }
            }
        }
    }

    private static double Act(double x, GemmActivation act) => act switch
    {
        GemmActivation.Relu => Math.Max(0, x),
        GemmActivation.GeluTanh => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + (0.044715 * x * x * x)))),
        GemmActivation.Silu => x / (1 + Math.Exp(-x)),
        _ => x,
    };

    private static (GemmTestMatrix A, GemmTestMatrix B, double[] Expected, double[] Tol) Problem(int m, int n, int k, bool bT, int seed)
    {
        var rng = new Random(seed);
        var a = new GemmTestMatrix(m, k, false, 0, rng);
        var b = new GemmTestMatrix(k, n, bT, 0, rng);
        var (expected, tol) = GemmOracle.Compute(a, b, new float[1], n, 1f, 0f);
        return (a, b, expected, tol);
    }

    private static float[] Run<TEpi>(SgemmPath path, GemmTestMatrix a, GemmTestMatrix b, in TEpi epi, SgemmKernelKind kind = SgemmKernelKind.Vector256)
        where TEpi : struct, IGemmEpilogue
    {
        var c = new float[a.Rows * b.Cols];
        Array.Fill(c, float.NaN);
        fixed (float* pa = a.Data)
        fixed (float* pb = b.Data)
        fixed (float* pc = c)
        {
            Sgemm.MultiplyCore(kind, path, a.Rows, b.Cols, a.Cols, pa, a.RowStride, a.ColStride, pb, b.RowStride, b.ColStride, pc, b.Cols, in epi, 1f, 0f, Pool);
        }

        return c;
    }

    public static TheoryData<int, int, int, bool, int> Shapes => new()
    {
        { 37, 45, 29, false, (int)SgemmPath.Packed },
        { 37, 45, 29, true, (int)SgemmPath.Direct },
        { 1, 70, 40, false, (int)SgemmPath.Auto },
        { 1, 70, 40, true, (int)SgemmPath.Auto },
        { 90, 1, 40, false, (int)SgemmPath.Auto },
        { 130, 100, 70, false, (int)SgemmPath.Auto },
        { 3, 5, 0, false, (int)SgemmPath.Auto },
        { 30, 200, 40000, true, (int)SgemmPath.Packed },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void EveryElementIsVisitedOnceWithConsistentTileCoordinates(int m, int n, int k, bool bT, int path)
    {
        var (a, b, _, _) = Problem(m, n, k, bT, 1);
        var visits = new int[Math.Max(1, m) * 1000];
        var c = new float[m * n];
        fixed (float* pa = a.Data)
        fixed (float* pb = b.Data)
        fixed (float* pc = c)
        {
            var epi = new CoverageEpilogue(visits, pc, n);
            Sgemm.MultiplyCore(SgemmKernelSelector.Best, (SgemmPath)path, m, n, k, pa, a.RowStride, a.ColStride, pb, b.RowStride, b.ColStride, pc, n, in epi, 1f, 0f, Pool);
        }

        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < 1000; j++)
            {
                Assert.Equal(j < n ? 1 : 0, visits[(i * 1000) + j]);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BiasAndActivationsMatchTheOracle(int m, int n, int k, bool bT, int path)
    {
        var (a, b, expected, tol) = Problem(m, n, k, bT, 2);
        var bias = Enumerable.Range(0, n).Select(j => (float)((j % 9) - 4) * 0.75f).ToArray();
        fixed (float* pbias = bias)
        {
            var c = Run((SgemmPath)path, a, b, new BiasEpilogue(pbias));
            GemmOracle.AssertClose(
                expected.Select((e, idx) => e + bias[idx % n]).ToArray(), tol.Select(t => t + 1e-6).ToArray(), c, m, n, n, "bias");
            foreach (var act in new[] { GemmActivation.None, GemmActivation.Relu, GemmActivation.GeluTanh, GemmActivation.Silu })
            {
                foreach (bool withBias in new[] { true, false })
                {
                    c = Run((SgemmPath)path, a, b, new BiasActivationEpilogue(withBias ? pbias : null, act));
                    var exp = expected.Select((e, idx) => Act(e + (withBias ? bias[idx % n] : 0), act)).ToArray();
                    var t = tol.Select((x, idx) => (2 * x) + (1e-5 * (1 + Math.Abs(exp[idx])))).ToArray();
                    GemmOracle.AssertClose(exp, t, c, m, n, n, $"{act} bias={withBias}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ResidualScaleAndChainMatchTheOracle(int m, int n, int k, bool bT, int path)
    {
        var (a, b, expected, tol) = Problem(m, n, k, bT, 3);
        int ldr = n + 3;
        var residual = Enumerable.Range(0, Math.Max(1, m * ldr)).Select(i => (float)((i % 13) - 6)).ToArray();
        fixed (float* pr = residual)
        {
            var c = Run((SgemmPath)path, a, b, new ResidualEpilogue(pr, ldr));
            GemmOracle.AssertClose(
                expected.Select((e, idx) => e + residual[((idx / n) * ldr) + (idx % n)]).ToArray(), tol, c, m, n, n, "residual");

            c = Run((SgemmPath)path, a, b, new ScaleEpilogue(-0.125f));
            GemmOracle.AssertClose(expected.Select(e => e * -0.125).ToArray(), tol, c, m, n, n, "scale");

            var chain = new ChainedEpilogue<BiasActivationEpilogue, ResidualEpilogue>(
                new BiasActivationEpilogue(null, GemmActivation.Relu), new ResidualEpilogue(pr, ldr));
            c = Run((SgemmPath)path, a, b, chain, SgemmKernelKind.Vector512);
            GemmOracle.AssertClose(
                expected.Select((e, idx) => Math.Max(0, e) + residual[((idx / n) * ldr) + (idx % n)]).ToArray(), tol, c, m, n, n, "relu then residual");
        }
    }

    [Fact]
    public void EpilogueSeesAlphaAndBetaApplied()
    {
        var (a, b, expected, tol) = Problem(20, 30, 40, false, 4);
        var c = Enumerable.Repeat(2f, 20 * 30).ToArray();
        fixed (float* pa = a.Data)
        fixed (float* pb = b.Data)
        fixed (float* pc = c)
        {
            var relu = new BiasActivationEpilogue(null, GemmActivation.Relu);
            Sgemm.Multiply(20, 30, 40, pa, a.RowStride, a.ColStride, pb, b.RowStride, b.ColStride, pc, 30, in relu, alpha: -1f, beta: 0.5f, pool: Pool);
        }

        GemmOracle.AssertClose(expected.Select(e => Math.Max(0, -e + 1)).ToArray(), tol, c, 20, 30, 30, "relu(-AB + 0.5 C)");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void PerBlockEpilogueSeesEveryElementOnceWithAllOfKAccumulated(int m, int n, int k, bool bT, int path)
    {
        var (a, b, expected, tol) = Problem(m, n, k, bT, 5);
        foreach (var pool in new[] { Pool, WorkerPool.Create(1), WorkerPool.Create(5) })
        {
            var visits = new int[m * n];
            var seen = new float[m * n];
            var calls = new int[1];
            var c = new float[m * n];
            fixed (float* pa = a.Data)
            fixed (float* pb = b.Data)
            fixed (float* pc = c)
            {
                var epi = new BlockEpilogue(visits, seen, calls, pc, n);
                Sgemm.MultiplyCore(SgemmKernelSelector.Best, (SgemmPath)path, m, n, k, pa, a.RowStride, a.ColStride, pb, b.RowStride, b.ColStride, pc, n, in epi, 1f, 0f, pool);
            }

            Assert.All(visits, v => Assert.Equal(1, v));
            GemmOracle.AssertClose(expected, tol, seen, m, n, n, $"values seen by the block epilogue, {pool.Threads} threads");
            if ((SgemmPath)path == SgemmPath.Packed && pool.Threads == 1)
            {
                // One thread, fewer than MC rows and NC columns: one work unit, so one call for all of C.
                Assert.Equal(1, calls[0]);
            }

            if (pool != Pool) pool.Dispose();
        }
    }
}
