namespace Candle.Runtime.Plans;

/// <summary>
/// Assigns arena offsets to buffers with known lifetimes: two buffers share memory only when their lifetimes
/// (inclusive step ranges) do not overlap. Greedy best fit, largest buffers first.
/// </summary>
public static class MemoryPlanner
{
    /// <summary>Alignment of every offset, in bytes.</summary>
    public const int Alignment = 64;

    /// <summary>Assigns offsets; returns the arena size needed (the peak).</summary>
    /// <param name="bytes">Size of each buffer.</param>
    /// <param name="first">First step using each buffer.</param>
    /// <param name="last">Last step using each buffer.</param>
    /// <param name="offsets">Receives each buffer's offset.</param>
    public static long Assign(ReadOnlySpan<long> bytes, ReadOnlySpan<int> first, ReadOnlySpan<int> last, Span<long> offsets)
    {
        int n = bytes.Length;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        long[] sizes = bytes.ToArray();
        Array.Sort(order, (x, y) => sizes[y] != sizes[x] ? sizes[y].CompareTo(sizes[x]) : x.CompareTo(y));
        var placed = new List<int>(n);
        long peak = 0;
        var overlapping = new List<(long Start, long End)>();
        foreach (int b in order)
        {
            long size = Align(bytes[b]);
            overlapping.Clear();
            foreach (int p in placed)
            {
                if (first[p] <= last[b] && first[b] <= last[p]) overlapping.Add((offsets[p], offsets[p] + Align(bytes[p])));
            }

            overlapping.Sort((x, y) => x.Start.CompareTo(y.Start));
            long best = -1, bestGap = long.MaxValue, cursor = 0;
            foreach (var (s, e) in overlapping)
            {
                if (s - cursor >= size && s - cursor < bestGap)
                {
                    best = cursor;
                    bestGap = s - cursor;
                }

                cursor = Math.Max(cursor, e);
            }

            if (best < 0) best = cursor;
            offsets[b] = best;
            placed.Add(b);
            peak = Math.Max(peak, best + size);
        }

        return peak;
    }

    private static long Align(long v) => (v + Alignment - 1) / Alignment * Alignment;
}
