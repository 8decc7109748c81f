namespace Candle.Compiler.Backends.Reference;

/// <summary>Row-major index arithmetic: strides, strided views as index maps, and reduction layouts.</summary>
internal static class Layout
{
    /// <summary>Number of elements of a shape.</summary>
    public static int Numel(IReadOnlyList<int> shape)
    {
        int n = 1;
        foreach (int d in shape) n = checked(n * d);
        return n;
    }

    /// <summary>Row-major strides of a contiguous tensor.</summary>
    public static int[] Strides(IReadOnlyList<int> shape)
    {
        var s = new int[shape.Count];
        int acc = 1;
        for (int i = shape.Count - 1; i >= 0; i--)
        {
            s[i] = acc;
            acc = checked(acc * shape[i]);
        }

        return s;
    }

    /// <summary>
    /// For each element of <paramref name="shape"/> (row-major), the flat source index
    /// <paramref name="offset"/> + Σ index[d]·<paramref name="strides"/>[d]. Strides may be zero (broadcast)
    /// or negative (flip).
    /// </summary>
    public static int[] StridedMap(int[] shape, int[] strides, int offset)
    {
        int n = Numel(shape);
        var map = new int[n];
        if (n == 0) return map;
        int rank = shape.Length;
        var idx = new int[rank];
        int cur = offset;
        for (int i = 0; i < n; i++)
        {
            map[i] = cur;
            for (int d = rank - 1; d >= 0; d--)
            {
                idx[d]++;
                cur += strides[d];
                if (idx[d] < shape[d]) break;
                cur -= strides[d] * shape[d];
                idx[d] = 0;
            }
        }

        return map;
    }

    /// <summary>
    /// Splits <paramref name="shape"/> into kept and reduced axes: <c>Outer[o]</c> is the flat offset of the
    /// first element of output position o (kept axes in order), <c>Inner[j]</c> the offset of reduced
    /// position j (reduced axes in order) relative to it.
    /// </summary>
    public static (int[] Outer, int[] Inner) Reduction(int[] shape, IEnumerable<int> reducedAxes)
    {
        var reduced = new HashSet<int>(reducedAxes);
        var strides = Strides(shape);
        var keptShape = new List<int>();
        var keptStrides = new List<int>();
        var redShape = new List<int>();
        var redStrides = new List<int>();
        for (int d = 0; d < shape.Length; d++)
        {
            if (reduced.Contains(d))
            {
                redShape.Add(shape[d]);
                redStrides.Add(strides[d]);
            }
            else
            {
                keptShape.Add(shape[d]);
                keptStrides.Add(strides[d]);
            }
        }

        return (StridedMap([.. keptShape], [.. keptStrides], 0), StridedMap([.. redShape], [.. redStrides], 0));
    }

    /// <summary>The row-major multi-index of flat position <paramref name="flat"/> in <paramref name="shape"/>.</summary>
    public static void Unravel(int flat, int[] shape, int[] index)
    {
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            int s = shape[d];
            index[d] = s == 0 ? 0 : flat % s;
            flat = s == 0 ? 0 : flat / s;
        }
    }

    /// <summary>
    /// Sliding-window taps: for each position p of <paramref name="from"/> and kernel tap t, the flat offset in
    /// <paramref name="to"/> of p·stride − padding + t·dilation (per spatial dim), or −1 when it falls outside.
    /// </summary>
    public static int[] WindowTaps(int[] from, int[] kernel, int[] to, IReadOnlyList<int> stride, IReadOnlyList<int> padding, IReadOnlyList<int>? dilation)
    {
        int fromCount = Numel(from), kCount = Numel(kernel);
        var toStrides = Strides(to);
        var taps = new int[fromCount * kCount];
        var p = new int[from.Length];
        var t = new int[kernel.Length];
        for (int i = 0; i < fromCount; i++)
        {
            Unravel(i, from, p);
            for (int k = 0; k < kCount; k++)
            {
                Unravel(k, kernel, t);
                int off = 0;
                for (int d = 0; d < p.Length && off >= 0; d++)
                {
                    int q = (p[d] * stride[d]) - padding[d] + (t[d] * (dilation is null ? 1 : dilation[d]));
                    off = q < 0 || q >= to[d] ? -1 : off + (q * toStrides[d]);
                }

                taps[(i * kCount) + k] = off;
            }
        }

        return taps;
    }
}
