using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Threading;
using CsCheck;

namespace Candle.Runtime.Tests.Gemm;

public unsafe class SgemmTests
{
    private static readonly WorkerPool Pool = WorkerPool.Create(3);

    public static TheoryData<int> Kinds => new() { (int)SgemmKernelKind.Scalar, (int)SgemmKernelKind.Vector256, (int)SgemmKernelKind.Vector512 };

    internal static float[] Run(
        SgemmKernelKind kind, SgemmPath path, GemmTestMatrix a, GemmTestMatrix b, float[] c, int ldc, float alpha, float beta, WorkerPool? pool = null)
    {
        var none = default(NoEpilogue);
        fixed (float* pa = a.Data)
        fixed (float* pb = b.Data)
        fixed (float* pc = c)
        {
            Sgemm.MultiplyCore(kind, path, a.Rows, b.Cols, a.Cols, pa, a.RowStride, a.ColStride, pb, b.RowStride, b.ColStride, pc, ldc, in none, alpha, beta, pool ?? Pool);
        }

        return c;
    }

    private static void Check(SgemmKernelKind kind, SgemmPath path, int m, int n, int k, bool aT, bool bT, int pad, float alpha, float beta, int seed)
    {
        var rng = new Random(seed);
        var a = new GemmTestMatrix(m, k, aT, pad, rng);
        var b = new GemmTestMatrix(k, n, bT, pad, rng);
        int ldc = n + pad;
        var c = new float[Math.Max(1, (m * ldc) + 3)];
        for (int i = 0; i < c.Length; i++)
        {
            c[i] = beta == 0 ? float.NaN : (float)rng.NextDouble();
        }

        var c0 = (float[])c.Clone();
        var (expected, tol) = GemmOracle.Compute(a, b, c0, ldc, alpha, beta);
        Run(kind, path, a, b, c, ldc, alpha, beta);
        GemmOracle.AssertClose(expected, tol, c, m, n, ldc, $"{kind}/{path} {m}x{n}x{k} aT={aT} bT={bT} pad={pad} alpha={alpha} beta={beta}");

        // Padding between rows of C is never written.
        for (int i = 0; i < m; i++)
        {
            for (int j = n; j < ldc; j++)
            {
                Assert.Equal(c0[(i * ldc) + j], c[(i * ldc) + j]);
            }
        }
    }

    [Fact]
    public void RandomShapesLayoutsPathsAndKernelsMatchTheOracle()
    {
        var gen =
            from m in Gen.Int[0, 70]
            from n in Gen.Int[0, 70]
            from k in Gen.Int[0, 70]
            from aT in Gen.Bool
            from bT in Gen.Bool
            from pad in Gen.Int[0, 3]
            from kind in Gen.Int[0, 2]
            from path in Gen.Int[0, 2]
            from ab in Gen.Int[0, 3]
            from seed in Gen.Int
            select (m, n, k, aT, bT, pad, kind, path, ab, seed);
        gen.Sample(
            t =>
            {
                float alpha = t.ab switch { 0 => 1f, 1 => -0.5f, 2 => 2f, _ => 1f };
                float beta = t.ab switch { 0 => 0f, 1 => 1f, 2 => 0.25f, _ => -1f };
                Check((SgemmKernelKind)t.kind, (SgemmPath)t.path, t.m, t.n, t.k, t.aT, t.bT, t.pad, alpha, beta, t.seed);
            },
            iter: 400);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EveryEdgeTileRemainderOfThePackedPath(int kindValue)
    {
        var kind = (SgemmKernelKind)kindValue;
        int mr = kind switch { SgemmKernelKind.Vector512 => MicroKernel512.MR, SgemmKernelKind.Vector256 => MicroKernel256.MR, _ => MicroKernelScalar.MR };
        int nr = SgemmKernelSelector.PanelWidth(kind);
        for (int m = 1; m <= (2 * mr) + 1; m++)
        {
            for (int n = 1; n <= (2 * nr) + 1; n++)
            {
                Check(kind, SgemmPath.Packed, m, n, 3, false, false, 0, 1f, 0.5f, (m * 1000) + n);
            }
        }
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.75f)]
    public void EdgeTilesAccumulateOverSeveralDepthSteps(float beta)
    {
        // K = 600 takes three depth steps: an edge tile (a remainder of rows, of columns, or both) is written first
        // with beta's scaling, then accumulated into twice, and never touches C's row padding.
        int[] rows = [1, 4, 5, 8, 9, 12, 13, 16, 17, 24, 25];
        int[] cols = [1, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 47, 49, 64, 65];
        foreach (var kind in new[] { SgemmKernelKind.Vector512, SgemmKernelKind.Vector256 })
        {
            foreach (int m in rows)
            {
                foreach (int n in cols)
                {
                    Check(kind, SgemmPath.Packed, m, n, 600, false, true, 1, 1f, beta, (m * 100) + n);
                }
            }
        }
    }

    [Theory]
    [InlineData(257, 129, 300, false, false)]
    [InlineData(257, 129, 300, true, true)]
    [InlineData(130, 67, 513, false, true)]
    [InlineData(7, 4100, 5, false, false)]
    [InlineData(300, 5, 129, true, false)]
    public void LargeShapesCrossEveryCacheBlock(int m, int n, int k, bool aT, bool bT)
    {
        foreach (var kind in new[] { SgemmKernelKind.Vector256, SgemmKernelKind.Scalar, SgemmKernelKind.Vector512 })
        {
            Check(kind, SgemmPath.Packed, m, n, k, aT, bT, 1, 1f, 0f, m + n + k);
        }

        Check(SgemmKernelSelector.Best, SgemmPath.Auto, m, n, k, aT, bT, 0, 1.5f, -1f, 7);
    }

    [Fact]
    public void DeepKNarrowsThePackedColumnBlocks()
    {
        // The packed block budget over 50000 rows of B leaves narrow column blocks: several are packed in turn.
        Check(SgemmKernelSelector.Best, SgemmPath.Packed, 6, 90, 50000, false, true, 0, 1f, 0f, 3);
    }

    [Theory]
    [InlineData(30, 200, 40000, false, false, 1f, 0f)]
    [InlineData(30, 200, 40000, true, true, -0.5f, 1f)]
    [InlineData(13, 70, 30001, true, false, 2f, 0.25f)]
    [InlineData(40, 4000, 1024, true, false, 1f, 0f)]
    public void DeepKRunsInSlicesAccumulatingIntoC(int m, int n, int k, bool aT, bool bT, float alpha, float beta)
    {
        // K x N past the packed block budget: the product runs as K slices (or narrow column blocks, whichever
        // moves fewer bytes), the first scaling C by beta and the later ones accumulating.
        foreach (var kind in new[] { SgemmKernelKind.Vector512, SgemmKernelKind.Vector256, SgemmKernelKind.Scalar })
        {
            Check(kind, SgemmPath.Packed, m, n, k, aT, bT, 1, alpha, beta, m + n + k);
        }
    }

    [Theory]
    [InlineData(1, 300, 1000, false)]
    [InlineData(1, 300, 1000, true)]
    [InlineData(1, 1, 1, false)]
    [InlineData(1, 77, 3, true)]
    [InlineData(500, 1, 700, false)]
    [InlineData(3, 520, 260, false)]
    [InlineData(4, 33, 600, true)]
    public void MatrixVectorShapes(int m, int n, int k, bool bT)
    {
        Check(SgemmKernelSelector.Best, SgemmPath.Auto, m, n, k, false, bT, 0, 1f, 0f, 11);
        Check(SgemmKernelSelector.Best, SgemmPath.Direct, m, n, k, false, bT, 2, 0.5f, 1f, 12);
        Check(SgemmKernelSelector.Best, SgemmPath.Auto, m, n, k, true, bT, 1, 1f, 0.5f, 13);
    }

    [Fact]
    public void PublicPointerAndSpanOverloadsMatchTheOracle()
    {
        var rng = new Random(5);
        var a = new GemmTestMatrix(70, 90, false, 0, rng);
        var b = new GemmTestMatrix(90, 50, false, 0, rng);
        var c = new float[70 * 50];
        var (expected, tol) = GemmOracle.Compute(a, b, c, 50, 1f, 0f);
        Sgemm.Multiply(a.Data.AsSpan(0, 70 * 90), b.Data.AsSpan(0, 90 * 50), c, 70, 50, 90);
        GemmOracle.AssertClose(expected, tol, c, 70, 50, 50, "span overload");

        Array.Fill(c, float.NaN);
        fixed (float* pa = a.Data)
        fixed (float* pb = b.Data)
        fixed (float* pc = c)
        {
            Sgemm.Multiply(70, 50, 90, pa, 90, 1, pb, 50, 1, pc, 50);
        }

        GemmOracle.AssertClose(expected, tol, c, 70, 50, 50, "pointer overload");
        Assert.False(string.IsNullOrEmpty(Sgemm.KernelName));
    }

    [Fact]
    public void ZeroDepthScalesCByBeta()
    {
        var rng = new Random(1);
        var a = new GemmTestMatrix(3, 0, false, 0, rng);
        var b = new GemmTestMatrix(0, 4, false, 0, rng);
        var c = Enumerable.Range(0, 12).Select(i => (float)i).ToArray();
        Run(SgemmKernelSelector.Best, SgemmPath.Auto, a, b, c, 4, 1f, 0.5f);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => i * 0.5f).ToArray(), c);
        Run(SgemmKernelSelector.Best, SgemmPath.Auto, a, b, c, 4, 1f, 0f);
        Assert.All(c, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void BadArgumentsNameTheProblem()
    {
        var buf = new float[16];
        fixed (float* p = buf)
        {
            float* pp = p;
            var e1 = Assert.Throws<ArgumentException>(() => Sgemm.Multiply(-1, 2, 2, pp, 2, 1, pp, 2, 1, pp, 2));
            Assert.Contains("negative", e1.Message, StringComparison.Ordinal);
            var e2 = Assert.Throws<ArgumentNullException>(() => Sgemm.Multiply(2, 2, 2, null, 2, 1, pp, 2, 1, pp, 2));
            Assert.Contains("A [2, 2]", e2.Message, StringComparison.Ordinal);
            var e3 = Assert.Throws<ArgumentException>(() => Sgemm.Multiply(2, 4, 2, pp, 2, 1, pp, 4, 1, pp, 3));
            Assert.Contains("ldc 3", e3.Message, StringComparison.Ordinal);
            var e4 = Assert.Throws<ArgumentException>(() => Sgemm.MultiplyBatched(2, 2, 2, 2, pp, 4, 2, 1, pp, 4, 2, 1, pp, 0, 2));
            Assert.Contains("batch stride", e4.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentException>(() => Sgemm.PackB(pp, -1, 2, 2, 1));
        }

        var e5 = Assert.Throws<ArgumentException>(() => Sgemm.Multiply(new float[3], new float[4], new float[4], 2, 2, 2));
        Assert.Contains("A [2, 2]", e5.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ConcurrentCallersOnOnePoolGetCorrectResults()
    {
        var errors = new System.Collections.Concurrent.ConcurrentBag<string>();
        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            try
            {
                for (int rep = 0; rep < 3; rep++)
                {
                    Check(SgemmKernelSelector.Best, SgemmPath.Auto, 65 + t, 70 + rep, 80, t % 2 == 0, rep % 2 == 0, 0, 1f, 0f, (t * 10) + rep);
                }
            }
            catch (Exception e)
            {
                errors.Add(e.Message);
            }
        })).ToArray();
        foreach (var t in threads)
        {
            t.Start();
        }

        foreach (var t in threads)
        {
            t.Join();
        }

        Assert.Empty(errors);
    }
}
