using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Threading;
using CsCheck;

namespace Candle.Runtime.Tests.Gemm;

public unsafe class GemmSplitTests
{
    [Fact]
    public void EveryTileAndPanelIsInExactlyOneUnit()
    {
        var gen =
            from m in Gen.Int[1, 3000]
            from colPanels in Gen.Int[1, 200]
            from mrIndex in Gen.Int[0, 3]
            let mr = new[] { 1, 4, 6, 12 }[mrIndex]
            from blockTiles in Gen.Int[1, 40]
            from threads in Gen.Int[1, 32]
            select (m, colPanels, mr, mc: mr * blockTiles, threads);
        gen.Sample(
            t =>
            {
                var split = GemmSplit.Choose(t.m, t.colPanels, t.mr, t.mc, t.threads);
                int tiles = (t.m + t.mr - 1) / t.mr;
                var covered = new int[tiles * t.colPanels];
                var rowsCovered = new int[t.m];
                for (int u = 0; u < split.Units; u++)
                {
                    var (rowStart, rowEnd) = split.RowRange(u);
                    var (panelStart, panelEnd) = split.PanelRange(u);
                    Assert.True(rowStart % t.mr == 0, $"unit {u} starts at row {rowStart}, not a multiple of {t.mr}");
                    Assert.True(rowEnd - rowStart <= t.mc, $"unit {u} has {rowEnd - rowStart} rows, more than {t.mc}");
                    Assert.True(rowStart < rowEnd && panelStart < panelEnd, $"unit {u} is empty");
                    Assert.True(rowEnd <= t.m && panelEnd <= t.colPanels);
                    for (int tile = rowStart / t.mr; tile * t.mr < rowEnd; tile++)
                    {
                        for (int p = panelStart; p < panelEnd; p++)
                        {
                            covered[(tile * t.colPanels) + p]++;
                        }
                    }

                    if (panelStart == 0)
                    {
                        for (int r = rowStart; r < rowEnd; r++) rowsCovered[r]++;
                    }
                }

                Assert.All(covered, c => Assert.Equal(1, c));
                Assert.All(rowsCovered, c => Assert.Equal(1, c));
                if (t.threads == 1) Assert.Equal(1, split.ColGroups);
            },
            iter: 3000);
    }

    [Fact]
    public void SixteenThreadsGetEvenSharesOfAGpt2Product()
    {
        // [1024, 768] with the 12x32 microkernel: 86 row tiles by 24 panels, 2064 tile products, 129 per thread at
        // best. Row blocks of at most 192 rows (16 tiles) by groups of at least four panels were 6 x 6 = 36 units of
        // up to 15 x 4 tiles: 16 threads claiming them in order take three rounds, the slowest 180 tile products.
        // At least two units per thread leave room for a thread that starts late.
        var split = GemmSplit.Choose(1024, 24, 12, 192, 16);
        int slowest = SlowestThread(split, 16);
        Assert.True(slowest <= 132, $"the slowest of 16 threads computes {slowest} tile products (ideal 129): {split}");
        Assert.True(split.Units >= 32, $"{split.Units} units for 16 threads: {split}");
    }

    [Theory]
    [InlineData(1024, 32, 4, 144, 2)] // [1024, 768] with the 4x24 microkernel on 2 threads
    [InlineData(1024, 128, 4, 144, 2)] // [1024, 3072]
    [InlineData(768, 32, 4, 144, 2)] // a weight gradient [768, 768]
    public void TwoThreadsKeepWholeRowBlocksOfAllPanels(int m, int colPanels, int mr, int mc, int threads)
    {
        // 1024 rows in blocks of at most 144 need 8 blocks; 8 units split evenly over 2 threads, so nothing is gained
        // by cutting the panels (which repacks A per group). 768 rows: 6 blocks of 128 rows, 3 per thread.
        var split = GemmSplit.Choose(m, colPanels, mr, mc, threads);
        Assert.Equal(1, split.ColGroups);
        Assert.Equal((m + mc - 1) / mc, split.RowBlocks);
    }

    [Theory]
    [InlineData((int)SgemmKernelKind.Vector256, 16)]
    [InlineData((int)SgemmKernelKind.Vector256, 5)]
    [InlineData((int)SgemmKernelKind.Vector512, 16)]
    [InlineData((int)SgemmKernelKind.Scalar, 7)]
    public void ManyThreadsMatchTheOracleAndOneThreadBitForBit(int kindValue, int threads)
    {
        var kind = (SgemmKernelKind)kindValue;
        // Which thread computes a tile does not change its sums: any split gives the one-thread result exactly.
        using var pool = WorkerPool.Create(threads);
        using var single = WorkerPool.Create(1);
        (int M, int N, int K, bool AT)[] shapes = [(1024, 768, 64, false), (300, 770, 100, true), (97, 1000, 300, false), (2000, 72, 80, true)];
        foreach (var (m, n, k, aT) in shapes)
        {
            var rng = new Random(m + n + k);
            var a = new GemmTestMatrix(m, k, aT, 0, rng);
            var b = new GemmTestMatrix(k, n, false, 0, rng);
            var c = new float[m * n];
            var (expected, tol) = GemmOracle.Compute(a, b, (float[])c.Clone(), n, 1f, 0f);
            var many = SgemmTests.Run(kind, SgemmPath.Packed, a, b, new float[m * n], n, 1f, 0f, pool);
            var one = SgemmTests.Run(kind, SgemmPath.Packed, a, b, new float[m * n], n, 1f, 0f, single);
            GemmOracle.AssertClose(expected, tol, many, m, n, n, $"{kind} {m}x{n}x{k} on {threads} threads");
            Assert.Equal(one, many);
        }
    }

    // In-order dynamic claiming: each unit goes to the thread that is free first; the cost is tile products.
    private static int SlowestThread(GemmSplit split, int threads)
    {
        var busy = new long[threads];
        for (int u = 0; u < split.Units; u++)
        {
            var (rowStart, rowEnd) = split.RowRange(u);
            var (panelStart, panelEnd) = split.PanelRange(u);
            long cost = (long)((rowEnd - rowStart + split.Mr - 1) / split.Mr) * (panelEnd - panelStart);
            int t = Array.IndexOf(busy, busy.Min());
            busy[t] += cost;
        }

        return (int)busy.Max();
    }
}
