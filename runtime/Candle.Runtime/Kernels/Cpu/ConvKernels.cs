using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Candle.Runtime.Kernels.Cpu.Args;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// N-d convolution and transposed convolution (NC* layout, groups, stride, padding, dilation) computed in double,
/// arguments <see cref="ConvArgs{T}"/> (work items are (n, output channel) pairs), and pooling, arguments
/// <see cref="PoolArgs{T}"/> (work items are (n, c) planes). Each position a window reaches is checked against its
/// spatial size before it is read.
/// </summary>
public static class ConvKernels
{
    /// <summary>Convolution; the weight is [Cout, Cin/groups, kernel...].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Conv(nint[] slots, long[] a, long start, long end) => Run(slots, a, start, end, transposed: false);

    /// <summary>Transposed convolution; the weight is [Cin, Cout/groups, kernel...].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ConvTranspose(nint[] slots, long[] a, long start, long end) => Run(slots, a, start, end, transposed: true);

    private static void Run(nint[] slots, long[] a, long start, long end, bool transposed)
    {
        var p = ConvArgs.Read(a);
        nint x = slots[p.X], w = slots[p.W], y = slots[p.Y];
        nint bias = p.Bias < 0 ? 0 : slots[p.Bias];
        var dt = (DType)p.DType;
        ReadOnlySpan<long> inShape = p.InSpatial.Span, kShape = p.Kernel.Span, outShape = p.OutSpatial.Span;
        ReadOnlySpan<long> stride = p.Stride.Span, padding = p.Padding.Span, dilation = p.Dilation.Span;
        int sp = inShape.Length;
        long cin = p.InChannels, cout = p.OutChannels, groups = p.Groups;
        long inSize = 1, kSize = 1, outSize = 1;
        for (int d = 0; d < sp; d++)
        {
            inSize *= inShape[d];
            kSize *= kShape[d];
            outSize *= outShape[d];
        }

        long cinG = cin / groups, coutG = cout / groups;

        // Without input channels per group no tap reads anything: skip the window.
        long taps = cinG == 0 ? 0 : kSize;
        Span<long> opos = stackalloc long[sp];
        Span<long> kpos = stackalloc long[sp];
        for (long item = start; item < end; item++)
        {
            long n = item / cout, co = item % cout, g = co / coutG, coLocal = co % coutG;
            double b = bias == 0 ? 0 : ElementIO.Read(bias, dt, co);
            for (long o = 0; o < outSize; o++)
            {
                Unflatten(o, outShape, opos);
                double s = b;
                for (long kk = 0; kk < taps; kk++)
                {
                    Unflatten(kk, kShape, kpos);
                    long inFlat = 0;
                    bool valid = true;
                    for (int d = 0; d < sp && valid; d++)
                    {
                        long pos;
                        if (!transposed)
                        {
                            pos = (opos[d] * stride[d]) - padding[d] + (kpos[d] * dilation[d]);
                        }
                        else
                        {
                            long t = opos[d] + padding[d] - (kpos[d] * dilation[d]);
                            if (t < 0 || t % stride[d] != 0)
                            {
                                valid = false;
                                break;
                            }

                            pos = t / stride[d];
                        }

                        valid = pos >= 0 && pos < inShape[d];
                        inFlat = (inFlat * inShape[d]) + pos;
                    }

                    if (!valid) continue;
                    for (long ci = 0; ci < cinG; ci++)
                    {
                        long c = (g * cinG) + ci;
                        double xv = ElementIO.Read(x, dt, (((n * cin) + c) * inSize) + inFlat);
                        long wIdx = transposed ? (((c * coutG) + coLocal) * kSize) + kk : (((co * cinG) + ci) * kSize) + kk;
                        s += xv * ElementIO.Read(w, dt, wIdx);
                    }
                }

                ElementIO.Write(y, dt, (item * outSize) + o, s);
            }
        }
    }

    private static void Unflatten(long flat, ReadOnlySpan<long> shape, Span<long> pos)
    {
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            long size = shape[d];
            pos[d] = flat % size;
            flat /= size;
        }
    }

    /// <summary>
    /// Max or average pooling; arguments: <see cref="PoolArgs{T}"/>. Work items are (n, c) planes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pool(nint[] slots, long[] a, long start, long end)
    {
        var p = PoolArgs.Read(a);
        nint x = slots[p.X], y = slots[p.Y];
        var dt = (DType)p.DType;
        bool isMax = p.IsMax != 0, includePad = p.CountIncludePad != 0;
        ReadOnlySpan<long> inShape = p.InSpatial.Span, kShape = p.Kernel.Span, outShape = p.OutSpatial.Span;
        ReadOnlySpan<long> stride = p.Stride.Span, padding = p.Padding.Span;
        int sp = inShape.Length;
        long inSize = 1, kSize = 1, outSize = 1;
        for (int d = 0; d < sp; d++)
        {
            inSize *= inShape[d];
            kSize *= kShape[d];
            outSize *= outShape[d];
        }

        if (dt == DType.F32 && sp == 2)
        {
            unsafe
            {
                Pool2d((float*)x, (float*)y, start, end, inShape, kShape, outShape, stride, padding, isMax, includePad);
            }

            return;
        }

        Span<long> opos = stackalloc long[sp];
        Span<long> lo = stackalloc long[sp];
        Span<long> box = stackalloc long[sp];
        Span<long> kpos = stackalloc long[sp];
        for (long plane = start; plane < end; plane++)
        {
            for (long o = 0; o < outSize; o++)
            {
                Unflatten(o, outShape, opos);
                double acc = isMax ? double.NegativeInfinity : 0;
                long count = 0;
                bool nan = false;

                // The window's positions inside the input: kernel offsets [lo, lo + box) per dimension, visited in
                // the window's row-major order (positions in the padding are not visited).
                long boxSize = 1;
                for (int d = 0; d < sp; d++)
                {
                    long first = (opos[d] * stride[d]) - padding[d];
                    lo[d] = Math.Max(0, -first);
                    box[d] = Math.Max(0, Math.Min(kShape[d], inShape[d] - first) - lo[d]);
                    boxSize *= box[d];
                }

                for (long kk = 0; kk < boxSize; kk++)
                {
                    Unflatten(kk, box, kpos);
                    long inFlat = 0;
                    for (int d = 0; d < sp; d++)
                    {
                        long pos = (opos[d] * stride[d]) - padding[d] + lo[d] + kpos[d];
                        inFlat = (inFlat * inShape[d]) + pos;
                    }

                    double v = ElementIO.Read(x, dt, (plane * inSize) + inFlat);
                    count++;
                    if (isMax)
                    {
                        nan |= double.IsNaN(v);
                        acc = Math.Max(acc, v);
                    }
                    else
                    {
                        acc += v;
                    }
                }

                double r = isMax ? (nan ? double.NaN : acc) : acc / (includePad ? kSize : count);
                ElementIO.Write(y, dt, (plane * outSize) + o, r);
            }
        }
    }

    /// <summary>
    /// Pool's float32 two-dimensional case: the same windows (positions in the padding skipped, the average over the
    /// whole window or the positions inside it), read directly as floats; the sum of an average in double as above.
    /// Compiled optimized at its first call, as <see cref="Pool"/> is: a plan may call it once a run (ResNet's average
    /// pool), too few calls for its loops to be promoted soon.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Pool2d(
        float* x, float* y, long start, long end, ReadOnlySpan<long> inShape, ReadOnlySpan<long> kShape, ReadOnlySpan<long> outShape,
        ReadOnlySpan<long> stride, ReadOnlySpan<long> padding, bool isMax, bool includePad)
    {
        long ih = inShape[0], iw = inShape[1], kh = kShape[0], kw = kShape[1], oh = outShape[0], ow = outShape[1];
        long sh = stride[0], sw = stride[1], ph = padding[0], pw = padding[1];
        if (isMax && MaxPoolRowsFit(iw, kw, ow, sw, pw, out _, out _))
        {
            MaxPool2d(x, y, start, end, ih, iw, kh, kw, oh, ow, sh, sw, ph, pw);
            return;
        }

        for (long plane = start; plane < end; plane++)
        {
            float* src = x + (plane * ih * iw);
            float* dst = y + (plane * oh * ow);
            for (long r = 0; r < oh; r++)
            {
                long top = (r * sh) - ph;
                long r0 = Math.Max(0, top), r1 = Math.Min(ih, top + kh);
                for (long c = 0; c < ow; c++)
                {
                    long left = (c * sw) - pw;
                    long c0 = Math.Max(0, left), c1 = Math.Min(iw, left + kw);
                    if (isMax)
                    {
                        float m = float.NegativeInfinity;
                        for (long i = r0; i < r1; i++)
                        {
                            float* row = src + (i * iw);
                            for (long j = c0; j < c1; j++) m = MathF.Max(m, row[j]);
                        }

                        dst[(r * ow) + c] = m;
                    }
                    else
                    {
                        double sum = 0;
                        for (long i = r0; i < r1; i++)
                        {
                            float* row = src + (i * iw);
                            for (long j = c0; j < c1; j++) sum += row[j];
                        }

                        long count = Math.Max(0, r1 - r0) * Math.Max(0, c1 - c0);
                        dst[(r * ow) + c] = (float)(sum / (includePad ? kh * kw : count));
                    }
                }
            }
        }
    }

    // Floats past a bordered row's end that the vector loads of a stride-2 window may read (−∞ like the border).
    private const int RowSlack = 32;

    /// <summary>
    /// Whether <see cref="MaxPoolRows"/> takes a row of <paramref name="iw"/> columns (its buffers live on the stack:
    /// rows of up to 16384 columns with their borders); <paramref name="bordered"/> and <paramref name="starts"/> size them.
    /// </summary>
    internal static bool MaxPoolRowsFit(long iw, long kw, long ow, long sw, long pw, out int bordered, out int starts)
    {
        bordered = starts = 0;
        if (ow <= 0 || pw + iw + kw > 16384 || (ow - 1) * sw >= 16384) return false;
        starts = (int)(((ow - 1) * sw) + 1);
        bordered = Math.Max((int)(pw + iw), starts + (int)kw - 1) + RowSlack;
        return true;
    }

    private static unsafe void MaxPool2d(float* x, float* y, long start, long end, long ih, long iw, long kh, long kw, long oh, long ow, long sh, long sw, long ph, long pw)
    {
        MaxPoolRowsFit(iw, kw, ow, sw, pw, out int bordered, out int starts);
        Span<float> columns = stackalloc float[bordered];
        Span<float> windows = stackalloc float[starts];
        for (long plane = start; plane < end; plane++)
        {
            MaxPoolRows(x + (plane * ih * iw), y + (plane * oh * ow), ih, iw, kh, kw, ow, sh, sw, ph, pw, 0, oh, columns, windows);
        }
    }

    /// <summary>
    /// Max pooling of output rows [<paramref name="r0"/>, <paramref name="r1"/>) of one float32 plane (input rows at
    /// <paramref name="src"/> + row · <paramref name="iw"/>, of which only those the windows reach are read; output row r at
    /// <paramref name="dst"/> + r · <paramref name="ow"/>): the window rows' maximum column by column, then the window's
    /// maximum over the row inside −∞ borders of the padding's width: for a stride of 2, 16 (8) outputs at once from the
    /// even lanes of each tap's two vectors; for other strides the maximum at every column (the row shifted by each
    /// tap), of which the outputs pick every stride-th. Every maximum is the IEEE maximum of
    /// <see cref="MathF.Max(float, float)"/> (the vectors' <c>Max</c> and <see cref="TensorPrimitives.Max(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>
    /// have its NaN and signed-zero rules), over the same positions as the reference's window (a −∞ border leaves a
    /// maximum as skipping the position does, and a window wholly outside the input is −∞ there too), so the same value.
    /// The buffers are sized by <see cref="MaxPoolRowsFit"/>.
    /// </summary>
    internal static unsafe void MaxPoolRows(
        float* src, float* dst, long ih, long iw, long kh, long kw, long ow, long sh, long sw, long ph, long pw, long r0, long r1, Span<float> columns, Span<float> windows)
    {
        // Window starts 0 … (ow − 1) · sw in the bordered row: pw −∞ before the input's columns, −∞ after them.
        int starts = windows.Length;
        columns[..(int)pw].Fill(float.NegativeInfinity);
        columns[(int)(pw + iw)..].Fill(float.NegativeInfinity);
        fixed (float* bordered = columns)
        {
            for (long r = r0; r < r1; r++)
            {
                long top = (r * sh) - ph;
                long i0 = Math.Max(0, top), i1 = Math.Min(ih, top + kh);
                float* o = dst + (r * ow);
                if (i1 <= i0)
                {
                    new Span<float>(o, (int)ow).Fill(float.NegativeInfinity);
                    continue;
                }

                ColumnMax(src + (i0 * iw), i1 - i0, iw, bordered + pw);
                if (sw == 2)
                {
                    StrideTwoWindows(bordered, (int)kw, (int)ow, o);
                    continue;
                }

                columns[..starts].CopyTo(windows);
                for (int t = 1; t < kw; t++) TensorPrimitives.Max(windows, columns.Slice(t, starts), windows);
                if (sw == 1)
                {
                    windows[..(int)ow].CopyTo(new Span<float>(o, (int)ow));
                }
                else
                {
                    for (long c = 0; c < ow; c++) o[c] = windows[(int)(c * sw)];
                }
            }
        }
    }

    /// <summary>The maximum of <paramref name="rows"/> rows of <paramref name="n"/> floats from <paramref name="first"/>, column by column, into <paramref name="to"/>.</summary>
    private static unsafe void ColumnMax(float* first, long rows, long n, float* to)
    {
        long j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; j + 16 <= n; j += 16)
            {
                var v = Vector512.Load(first + j);
                for (long i = 1; i < rows; i++) v = Vector512.Max(v, Vector512.Load(first + (i * n) + j));
                v.Store(to + j);
            }
        }

        if (Vector256.IsHardwareAccelerated)
        {
            for (; j + 8 <= n; j += 8)
            {
                var v = Vector256.Load(first + j);
                for (long i = 1; i < rows; i++) v = Vector256.Max(v, Vector256.Load(first + (i * n) + j));
                v.Store(to + j);
            }
        }

        for (; j < n; j++)
        {
            float m = first[j];
            for (long i = 1; i < rows; i++) m = MathF.Max(m, first[(i * n) + j]);
            to[j] = m;
        }
    }

    /// <summary>
    /// Outputs c of a stride-2 window of <paramref name="kw"/> taps: the maximum of <paramref name="row"/>[2c + t] over
    /// the taps (the bordered row, readable <see cref="RowSlack"/> floats past its last window).
    /// </summary>
    private static unsafe void StrideTwoWindows(float* row, int kw, int ow, float* o)
    {
        int c = 0;
        if (Avx512F.IsSupported)
        {
            var even = Vector512.CreateSequence(0, 2);
            for (; c + 16 <= ow; c += 16)
            {
                float* at = row + (2 * c);
                var m = Avx512F.PermuteVar16x32x2(Vector512.Load(at), even, Vector512.Load(at + 16));
                for (int t = 1; t < kw; t++) m = Vector512.Max(m, Avx512F.PermuteVar16x32x2(Vector512.Load(at + t), even, Vector512.Load(at + t + 16)));
                m.Store(o + c);
            }
        }

        if (Avx2.IsSupported)
        {
            for (; c + 8 <= ow; c += 8)
            {
                float* at = row + (2 * c);
                var m = Even(Vector256.Load(at), Vector256.Load(at + 8));
                for (int t = 1; t < kw; t++) m = Vector256.Max(m, Even(Vector256.Load(at + t), Vector256.Load(at + t + 8)));
                m.Store(o + c);
            }
        }

        for (; c < ow; c++)
        {
            float m = row[2 * c];
            for (int t = 1; t < kw; t++) m = MathF.Max(m, row[(2 * c) + t]);
            o[c] = m;
        }
    }

    /// <summary>The even lanes of two vectors, in order: the even lanes of each 128-bit half, then the 64-bit pairs in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Even(Vector256<float> lo, Vector256<float> hi) =>
        Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0x88).AsDouble(), 0xD8).AsSingle();
}
