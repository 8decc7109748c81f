using System.Runtime.CompilerServices;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// The unfolded windows of a 2-d convolution (im2col: row (c, ky, kx), column = output position) written straight
/// into the SGEMM's B panel layout: panel j holds the <see cref="Nr"/> output positions from <c>j · Nr</c>, row r of it
/// at <c>r · Nr</c>, zeros past the last position and where a window reads padding. One pass over the input, no
/// dense column matrix and no second packing copy. A 1-d convolution is a 2-d one of height 1.
/// </summary>
internal unsafe struct ConvPanels
{
    /// <summary>Input height and width.</summary>
    public long H, W;

    /// <summary>Kernel height and width.</summary>
    public long KH, KW;

    /// <summary>Output height and width.</summary>
    public long OH, OW;

    /// <summary>Strides, paddings (before) and dilations.</summary>
    public long SH, SW, PH, PW, DH, DW;

    /// <summary>Rows of the unfolded matrix: input channels (of the group) times kernel taps.</summary>
    public long Rows;

    /// <summary>The panel width (the microkernel's NR).</summary>
    public int Nr;

    /// <summary>Output positions: OH · OW.</summary>
    public readonly long OutSize => OH * OW;

    /// <summary>Floats of one panel.</summary>
    public readonly long PanelFloats => Rows * Nr;

    /// <summary>Panels covering every output position.</summary>
    public readonly long Panels => (OutSize + Nr - 1) / Nr;

    /// <summary>Writes panel <paramref name="panel"/> of the unfolding of the channels at <paramref name="src"/> to <paramref name="dst"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void Pack(float* src, long panel, float* dst)
    {
        int nr = Nr;
        long p = panel * nr;
        int width = (int)Math.Min(nr, OutSize - p);

        // The panel's positions as runs along output rows: (output row, first output column, length, offset in panel).
        Span<long> segOy = stackalloc long[nr];
        Span<long> segOx = stackalloc long[nr];
        Span<int> segLen = stackalloc int[nr];
        Span<int> segAt = stackalloc int[nr];
        int segments = 0;
        for (int at = 0; at < width;)
        {
            long q = p + at;
            long oy = q / OW, ox = q % OW;
            int len = (int)Math.Min(OW - ox, width - at);
            segOy[segments] = oy;
            segOx[segments] = ox;
            segLen[segments] = len;
            segAt[segments] = at;
            segments++;
            at += len;
        }

        long taps = KH * KW, plane = H * W;
        for (long r = 0; r < Rows; r++)
        {
            long c = r / taps, tap = r % taps;
            long ky = tap / KW, kx = tap % KW;
            float* channel = src + (c * plane);
            float* d = dst + (r * nr);
            long xOffset = (kx * DW) - PW, yOffset = (ky * DH) - PH;
            for (int s = 0; s < segments; s++)
            {
                float* o = d + segAt[s];
                int len = segLen[s];
                long iy = (segOy[s] * SH) + yOffset;
                if (iy < 0 || iy >= H)
                {
                    new Span<float>(o, len).Clear();
                    continue;
                }

                // Output columns ox read input column ox · SW + xOffset: those in [lo, hi) fall inside the row.
                long ox0 = segOx[s], ox1 = ox0 + len;
                long lo = xOffset >= 0 ? ox0 : Math.Max(ox0, (-xOffset + SW - 1) / SW);
                long hi = W - xOffset <= 0 ? lo : Math.Min(ox1, (W - xOffset + SW - 1) / SW);
                lo = Math.Min(lo, ox1);
                hi = Math.Max(hi, lo);
                float* row = channel + (iy * W) + xOffset;
                int head = (int)(lo - ox0), body = (int)(hi - lo);
                if (head > 0) new Span<float>(o, head).Clear();
                float* ob = o + head;
                if (SW == 1)
                {
                    Buffer.MemoryCopy(row + lo, ob, (long)body * sizeof(float), (long)body * sizeof(float));
                }
                else
                {
                    float* ib = row + (lo * SW);
                    for (int j = 0; j < body; j++) ob[j] = ib[j * SW];
                }

                int tail = len - head - body;
                if (tail > 0) new Span<float>(ob + body, tail).Clear();
            }

            if (width < nr) new Span<float>(d + width, nr - width).Clear();
        }
    }
}
