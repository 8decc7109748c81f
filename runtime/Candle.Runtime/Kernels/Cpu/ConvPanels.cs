using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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

        // Per tap (ky, kx), each segment's part inside the input row (head zeros, body read, tail zeros) and the body's
        // offset in a channel are the same for every channel: computed once per tap, then applied channel by channel.
        Span<int> segHead = stackalloc int[nr];
        Span<int> segBody = stackalloc int[nr];
        Span<long> segSrc = stackalloc long[nr];
        long taps = KH * KW, plane = H * W, channels = Rows / Math.Max(taps, 1);
        for (long ky = 0; ky < KH; ky++)
        {
            for (long kx = 0; kx < KW; kx++)
            {
                long xOffset = (kx * DW) - PW, yOffset = (ky * DH) - PH;
                for (int s = 0; s < segments; s++)
                {
                    int len = segLen[s];
                    long iy = (segOy[s] * SH) + yOffset;
                    if (iy < 0 || iy >= H)
                    {
                        segHead[s] = len;
                        segBody[s] = 0;
                        segSrc[s] = 0;
                        continue;
                    }

                    // Output columns ox read input column ox · SW + xOffset: those in [lo, hi) fall inside the row.
                    long ox0 = segOx[s], ox1 = ox0 + len;
                    long lo = xOffset >= 0 ? ox0 : Math.Max(ox0, (-xOffset + SW - 1) / SW);
                    long hi = W - xOffset <= 0 ? lo : Math.Min(ox1, (W - xOffset + SW - 1) / SW);
                    lo = Math.Min(lo, ox1);
                    hi = Math.Max(hi, lo);
                    segHead[s] = (int)(lo - ox0);
                    segBody[s] = (int)(hi - lo);
                    segSrc[s] = (iy * W) + xOffset + (lo * SW);
                }

                long tap = (ky * KW) + kx;
                for (long c = 0; c < channels; c++)
                {
                    float* channel = src + (c * plane);
                    float* d = dst + (((c * taps) + tap) * nr);
                    for (int s = 0; s < segments; s++)
                    {
                        float* o = d + segAt[s];
                        int len = segLen[s], head = segHead[s], body = segBody[s];
                        if (head > 0) Zero(o, head);
                        if (body > 0)
                        {
                            if (SW == 1) Copy(channel + segSrc[s], o + head, body);
                            else Gather(channel + segSrc[s], SW, o + head, body);
                        }

                        int tail = len - head - body;
                        if (tail > 0) Zero(o + head + body, tail);
                    }

                    if (width < nr) Zero(d + width, nr - width);
                }
            }
        }
    }

    /// <summary>Copies <paramref name="n"/> contiguous floats (a panel row's run: at most a few vectors).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Copy(float* from, float* to, int n)
    {
        if (Avx512F.IsSupported)
        {
            int j = 0;
            for (; j + 16 <= n; j += 16) Vector512.Store(Vector512.Load(from + j), to + j);
            if (j < n)
            {
                var mask = Vector512.LessThan(Vector512.CreateSequence(0, 1), Vector512.Create(n - j)).AsSingle();
                Avx512F.MaskStore(to + j, mask, Avx512F.MaskLoad(from + j, mask, Vector512<float>.Zero));
            }

            return;
        }

        if (Avx.IsSupported)
        {
            int j = 0;
            for (; j + 8 <= n; j += 8) Vector256.Store(Vector256.Load(from + j), to + j);
            if (j < n)
            {
                var mask = Vector256.LessThan(Vector256.CreateSequence(0, 1), Vector256.Create(n - j)).AsSingle();
                Avx.MaskStore(to + j, mask, Avx.MaskLoad(from + j, mask));
            }

            return;
        }

        Buffer.MemoryCopy(from, to, (long)n * sizeof(float), (long)n * sizeof(float));
    }

    /// <summary>Reads <paramref name="n"/> floats <paramref name="stride"/> apart into a contiguous run.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Gather(float* from, long stride, float* to, int n)
    {
        int j = 0;
        if (stride == 2 && Avx512F.IsSupported)
        {
            // Even lanes of two vectors (masked to the floats the run reads) make 16 values at once.
            var lanes = Vector512.CreateSequence(0, 1);
            var even = Vector512.CreateSequence(0, 2);
            for (; j < n; j += 16)
            {
                int reads = (2 * Math.Min(16, n - j)) - 1;
                float* at = from + (2L * j);
                var lo = Avx512F.MaskLoad(at, Vector512.LessThan(lanes, Vector512.Create(reads)).AsSingle(), Vector512<float>.Zero);
                var hi = Avx512F.MaskLoad(at + 16, Vector512.LessThan(lanes, Vector512.Create(reads - 16)).AsSingle(), Vector512<float>.Zero);
                var picked = Avx512F.PermuteVar16x32x2(lo, even, hi);
                Avx512F.MaskStore(to + j, Vector512.LessThan(lanes, Vector512.Create(n - j)).AsSingle(), picked);
            }

            return;
        }

        if (stride == 2 && Avx2.IsSupported)
        {
            // The same with eight: even lanes of each 128-bit half of two vectors, then the 64-bit pairs in order.
            var lanes = Vector256.CreateSequence(0, 1);
            for (; j < n; j += 8)
            {
                int reads = (2 * Math.Min(8, n - j)) - 1;
                float* at = from + (2L * j);
                var lo = Avx.MaskLoad(at, Vector256.LessThan(lanes, Vector256.Create(reads)).AsSingle());
                var hi = Avx.MaskLoad(at + 8, Vector256.LessThan(lanes, Vector256.Create(reads - 8)).AsSingle());
                var picked = Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0x88).AsDouble(), 0xD8).AsSingle();
                Avx.MaskStore(to + j, Vector256.LessThan(lanes, Vector256.Create(n - j)).AsSingle(), picked);
            }

            return;
        }

        for (; j < n; j++) to[j] = from[j * stride];
    }

    /// <summary>Writes <paramref name="n"/> zeros.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Zero(float* to, int n)
    {
        if (Avx512F.IsSupported)
        {
            int j = 0;
            for (; j + 16 <= n; j += 16) Vector512<float>.Zero.Store(to + j);
            if (j < n) Avx512F.MaskStore(to + j, Vector512.LessThan(Vector512.CreateSequence(0, 1), Vector512.Create(n - j)).AsSingle(), Vector512<float>.Zero);
            return;
        }

        if (Avx.IsSupported)
        {
            int j = 0;
            for (; j + 8 <= n; j += 8) Vector256<float>.Zero.Store(to + j);
            if (j < n) Avx.MaskStore(to + j, Vector256.LessThan(Vector256.CreateSequence(0, 1), Vector256.Create(n - j)).AsSingle(), Vector256<float>.Zero);
            return;
        }

        new Span<float>(to, n).Clear();
    }
}
