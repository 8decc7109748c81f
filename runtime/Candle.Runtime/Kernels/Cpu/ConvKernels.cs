using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
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
    /// </summary>
    private static unsafe void Pool2d(
        float* x, float* y, long start, long end, ReadOnlySpan<long> inShape, ReadOnlySpan<long> kShape, ReadOnlySpan<long> outShape,
        ReadOnlySpan<long> stride, ReadOnlySpan<long> padding, bool isMax, bool includePad)
    {
        long ih = inShape[0], iw = inShape[1], kh = kShape[0], kw = kShape[1], oh = outShape[0], ow = outShape[1];
        long sh = stride[0], sw = stride[1], ph = padding[0], pw = padding[1];
        // The max pool's row buffers live on the stack: rows of up to 16384 columns with their borders.
        if (isMax && ow > 0 && pw + iw + kw <= 16384 && (ow - 1) * sw < 16384)
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

    /// <summary>
    /// Max pooling of float32 planes, row of outputs by row: the window rows' maximum column by column, then the
    /// window's maximum at every column (the row shifted by each tap, inside −∞ borders of the padding's width), of
    /// which the outputs pick every stride-th; both passes vectorized with the IEEE maximum of
    /// <see cref="MathF.Max(float, float)"/>. The maximum of the same positions as the reference's window (a −∞ border
    /// leaves a maximum as skipping the position does, and a window wholly outside the input is −∞ there too), so the
    /// same value.
    /// </summary>
    private static unsafe void MaxPool2d(float* x, float* y, long start, long end, long ih, long iw, long kh, long kw, long oh, long ow, long sh, long sw, long ph, long pw)
    {
        // Window starts 0 … (ow − 1) · sw in the bordered row: the border holds pw −∞ before the input's columns and
        // enough after for the last window.
        int starts = (int)(((ow - 1) * sw) + 1), bordered = Math.Max((int)(pw + iw), starts + (int)kw - 1);
        Span<float> columns = stackalloc float[bordered];
        Span<float> windows = stackalloc float[starts];
        columns[..(int)pw].Fill(float.NegativeInfinity);
        columns[(int)(pw + iw)..].Fill(float.NegativeInfinity);
        var inside = columns.Slice((int)pw, (int)iw);
        for (long plane = start; plane < end; plane++)
        {
            float* src = x + (plane * ih * iw);
            float* dst = y + (plane * oh * ow);
            for (long r = 0; r < oh; r++)
            {
                long top = (r * sh) - ph;
                long r0 = Math.Max(0, top), r1 = Math.Min(ih, top + kh);
                float* o = dst + (r * ow);
                if (r1 <= r0)
                {
                    new Span<float>(o, (int)ow).Fill(float.NegativeInfinity);
                    continue;
                }

                new ReadOnlySpan<float>(src + (r0 * iw), (int)iw).CopyTo(inside);
                for (long i = r0 + 1; i < r1; i++) TensorPrimitives.Max(inside, new ReadOnlySpan<float>(src + (i * iw), (int)iw), inside);
                columns[..starts].CopyTo(windows);
                for (int t = 1; t < kw; t++) TensorPrimitives.Max(windows, columns.Slice(t, starts), windows);
                if (sw == 1)
                {
                    windows.CopyTo(new Span<float>(o, (int)ow));
                }
                else
                {
                    for (long c = 0; c < ow; c++) o[c] = windows[(int)(c * sw)];
                }
            }
        }
    }
}
