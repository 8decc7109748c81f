namespace Candle.Runtime.Kernels.Gemm;

/// <summary>
/// How the blocked driver cuts one column block of C into work units that threads claim: <see cref="RowBlocks"/>
/// blocks of whole MR-high row tiles (tile counts differing by at most one) times <see cref="ColGroups"/> groups of
/// whole NR-wide column panels (panel counts differing by at most one). Unit <c>u</c> is row block
/// <c>u / ColGroups</c> and column group <c>u % ColGroups</c>; every (row tile, panel) pair of the block lies in
/// exactly one unit.
/// </summary>
/// <remarks>
/// <see cref="Choose"/> picks the split whose slowest thread finishes first under a simple cost model: a unit costs
/// its row tiles times (its panels + <see cref="PackCost"/>, the packing of its rows of A, repeated per column
/// group), and the threads claim units in order, so the step takes about <c>ceil(units / threads)</c> times the
/// largest unit; at least two units per thread where the tiles allow, ties to fewer units. A [1024, 768] product on
/// 16 threads with the 12x32 microkernel (86 row tiles, 24 panels) is 8 row blocks of 10-11 tiles by 4 groups of 6
/// panels, 32 units, two per thread; cutting by at most 192 rows (6 row blocks) and groups of at least four panels
/// (6 groups) gave 36 units, three rounds of which the last kept 4 of 16 threads busy. On 2 threads with the 4x24
/// microkernel it stays 8 row blocks of 128 rows by one group of all 32 panels.
/// </remarks>
internal readonly record struct GemmSplit(int Rows, int Mr, int RowTiles, int RowBlocks, int ColPanels, int ColGroups)
{
    /// <summary>The cost of packing one row tile's A for a unit, in panel-tile multiplies.</summary>
    internal const double PackCost = 0.5;

    /// <summary>
    /// Work units per thread at least (where the tiles allow): a thread that starts late or is interrupted leaves its
    /// second unit to the others instead of holding up the whole product.
    /// </summary>
    private const int MinUnitsPerThread = 2;

    /// <summary>Work units per thread at most considered (more only adds overhead).</summary>
    private const int MaxUnitsPerThread = 8;

    /// <summary>The number of work units.</summary>
    public int Units => RowBlocks * ColGroups;

    /// <summary>
    /// The split of a block of <paramref name="m"/> rows and <paramref name="colPanels"/> panels for
    /// <paramref name="threads"/> threads, row blocks at most <paramref name="mc"/> rows (a multiple of
    /// <paramref name="mr"/>).
    /// </summary>
    public static GemmSplit Choose(int m, int colPanels, int mr, int mc, int threads)
    {
        int tiles = (m + mr - 1) / mr;
        int tilesPerBlock = Math.Max(1, mc / mr);
        int minRowBlocks = Math.Max(1, (tiles + tilesPerBlock - 1) / tilesPerBlock);
        if (threads <= 1 || tiles == 0 || colPanels == 0)
        {
            return new GemmSplit(m, mr, tiles, Math.Max(1, Math.Min(minRowBlocks, tiles)), colPanels, 1);
        }

        long maxUnits = Math.Max((long)MaxUnitsPerThread * threads, 2L * minRowBlocks);
        long minUnits = Math.Min((long)MinUnitsPerThread * threads, (long)tiles * colPanels);
        var best = new GemmSplit(m, mr, tiles, minRowBlocks, colPanels, 1);
        double bestTime = double.MaxValue;
        for (int r = minRowBlocks; r <= tiles && r <= maxUnits; r++)
        {
            for (int c = 1; c <= colPanels && (long)r * c <= maxUnits; c++)
            {
                if ((long)r * c < minUnits) continue;
                double t = Estimate(tiles, r, colPanels, c, threads);
                if (t < bestTime - 1e-9 || (Math.Abs(t - bestTime) <= 1e-9 && r * c < best.Units))
                {
                    best = new GemmSplit(m, mr, tiles, r, colPanels, c);
                    bestTime = t;
                }
            }
        }

        return best;
    }

    /// <summary>The estimated time (in panel-tile multiplies) of the slowest thread.</summary>
    internal static double Estimate(int tiles, int rowBlocks, int colPanels, int colGroups, int threads)
    {
        int unitTiles = (tiles + rowBlocks - 1) / rowBlocks;
        int unitPanels = (colPanels + colGroups - 1) / colGroups;
        int units = rowBlocks * colGroups;
        int rounds = (units + threads - 1) / threads;
        return rounds * unitTiles * (unitPanels + PackCost);
    }

    /// <summary>The rows <c>[start, end)</c> of unit <paramref name="unit"/> (start a multiple of MR).</summary>
    public (int Start, int End) RowRange(int unit)
    {
        int block = unit / ColGroups;
        int first = (int)((long)RowTiles * block / RowBlocks);
        int last = (int)((long)RowTiles * (block + 1) / RowBlocks);
        return (first * Mr, Math.Min(Rows, last * Mr));
    }

    /// <summary>The panels <c>[start, end)</c> of unit <paramref name="unit"/>.</summary>
    public (int Start, int End) PanelRange(int unit)
    {
        int group = unit % ColGroups;
        return ((int)((long)ColPanels * group / ColGroups), (int)((long)ColPanels * (group + 1) / ColGroups));
    }
}
