using System.Runtime.CompilerServices;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// N-d convolution and transposed convolution (NC* layout, groups, stride, padding, dilation) computed in double.
/// Args: <c>xSlot, wSlot, biasSlot (−1 none), outSlot, dtype, sp, N, Cin, Cout, groups, inSpatial[sp], kernel[sp],
/// outSpatial[sp], stride[sp], padding[sp], dilation[sp]</c>. Work items are (n, output channel) pairs.
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
        nint x = slots[a[0]], w = slots[a[1]], y = slots[a[3]];
        nint bias = a[2] < 0 ? 0 : slots[a[2]];
        var dt = (DType)a[4];
        int sp = (int)a[5];
        long cin = a[7], cout = a[8], groups = a[9];
        int inAt = 10, kAt = inAt + sp, outAt = kAt + sp, stAt = outAt + sp, padAt = stAt + sp, dilAt = padAt + sp;
        long inSize = 1, kSize = 1, outSize = 1;
        for (int d = 0; d < sp; d++)
        {
            inSize *= a[inAt + d];
            kSize *= a[kAt + d];
            outSize *= a[outAt + d];
        }

        long cinG = cin / groups, coutG = cout / groups;
        Span<long> opos = stackalloc long[sp];
        Span<long> kpos = stackalloc long[sp];
        for (long item = start; item < end; item++)
        {
            long n = item / cout, co = item % cout, g = co / coutG, coLocal = co % coutG;
            double b = bias == 0 ? 0 : ElementIO.Read(bias, dt, co);
            for (long o = 0; o < outSize; o++)
            {
                Unflatten(o, a, outAt, sp, opos);
                double s = b;
                for (long kk = 0; kk < kSize; kk++)
                {
                    Unflatten(kk, a, kAt, sp, kpos);
                    long inFlat = 0;
                    bool valid = true;
                    for (int d = 0; d < sp && valid; d++)
                    {
                        long pos;
                        if (!transposed)
                        {
                            pos = (opos[d] * a[stAt + d]) - a[padAt + d] + (kpos[d] * a[dilAt + d]);
                        }
                        else
                        {
                            long t = opos[d] + a[padAt + d] - (kpos[d] * a[dilAt + d]);
                            if (t < 0 || t % a[stAt + d] != 0)
                            {
                                valid = false;
                                break;
                            }

                            pos = t / a[stAt + d];
                        }

                        valid = pos >= 0 && pos < a[inAt + d];
                        inFlat = (inFlat * a[inAt + d]) + pos;
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

    private static void Unflatten(long flat, long[] a, int shapeAt, int sp, Span<long> pos)
    {
        for (int d = sp - 1; d >= 0; d--)
        {
            long size = a[shapeAt + d];
            pos[d] = flat % size;
            flat /= size;
        }
    }

    /// <summary>
    /// Max or average pooling. Args: <c>xSlot, outSlot, dtype, sp, isMax, countIncludePad, inSpatial[sp], kernel[sp],
    /// stride[sp], padding[sp], outSpatial[sp]</c>. Work items are (n, c) planes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pool(nint[] slots, long[] a, long start, long end)
    {
        nint x = slots[a[0]], y = slots[a[1]];
        var dt = (DType)a[2];
        int sp = (int)a[3];
        bool isMax = a[4] != 0, includePad = a[5] != 0;
        int inAt = 6, kAt = inAt + sp, stAt = kAt + sp, padAt = stAt + sp, outAt = padAt + sp;
        long inSize = 1, kSize = 1, outSize = 1;
        for (int d = 0; d < sp; d++)
        {
            inSize *= a[inAt + d];
            kSize *= a[kAt + d];
            outSize *= a[outAt + d];
        }

        Span<long> opos = stackalloc long[sp];
        Span<long> kpos = stackalloc long[sp];
        for (long plane = start; plane < end; plane++)
        {
            for (long o = 0; o < outSize; o++)
            {
                Unflatten(o, a, outAt, sp, opos);
                double acc = isMax ? double.NegativeInfinity : 0;
                long count = 0;
                bool nan = false;
                for (long kk = 0; kk < kSize; kk++)
                {
                    Unflatten(kk, a, kAt, sp, kpos);
                    long inFlat = 0;
                    bool valid = true;
                    for (int d = 0; d < sp; d++)
                    {
                        long pos = (opos[d] * a[stAt + d]) - a[padAt + d] + kpos[d];
                        valid &= pos >= 0 && pos < a[inAt + d];
                        inFlat = (inFlat * a[inAt + d]) + pos;
                    }

                    if (!valid) continue;
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
}
