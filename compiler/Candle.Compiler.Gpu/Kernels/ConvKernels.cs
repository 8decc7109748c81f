using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Direct convolution and transposed convolution of dense [batch, channels, (height,) width] buffers with grouped
/// weights ([out, in / groups, kh, kw] for a convolution, [in, out / groups, kh, kw] for a transposed one), an
/// optional bias per output channel, f32 accumulation; 1-D calls run as 2-D with a height of 1.
/// </summary>
internal static class ConvKernels
{
    /// <summary>
    /// One thread per output element: a convolution sums the input window over its group's channels; a transposed
    /// convolution gathers the input positions whose strided scatter lands on the element (the same sums as PyTorch's
    /// conv_transpose, without atomics).
    /// </summary>
    public static void Conv<T, TS>(
        Index1D index, ArrayView<T> x, ArrayView<T> w, ArrayView<T> bias, ArrayView<T> y,
        long xOff, long wOff, int hasBias, int transpose, int inChannels, int outChannels, int groups,
        int inH, int inW, int kH, int kW, int outH, int outW, int strideH, int strideW, int padH, int padW, int dilH, int dilW)
        where T : unmanaged
        where TS : struct, IStorage<T>
    {
        var s = default(TS);
        long e = index.X;
        int ox = (int)(e % outW);
        long r = e / outW;
        int oy = (int)(r % outH);
        r /= outH;
        int oc = (int)(r % outChannels);
        long n = r / outChannels;
        int inPer = inChannels / groups, outPer = outChannels / groups;
        int g = oc / outPer;
        float acc = hasBias != 0 ? s.Load(bias, oc) : 0f;
        for (int c = 0; c < inPer; c++)
        {
            int ic = (g * inPer) + c;
            long xBase = xOff + ((((n * inChannels) + ic) * inH) * inW);
            long wBase = transpose != 0
                ? wOff + ((((long)ic * outPer) + (oc - (g * outPer))) * kH * kW)
                : wOff + ((((long)oc * inPer) + c) * kH * kW);
            for (int ky = 0; ky < kH; ky++)
            {
                int iy;
                if (transpose != 0)
                {
                    int t = oy + padH - (ky * dilH);
                    if (t < 0 || t % strideH != 0) continue;
                    iy = t / strideH;
                }
                else
                {
                    iy = (oy * strideH) - padH + (ky * dilH);
                }

                if (iy < 0 || iy >= inH) continue;
                for (int kx = 0; kx < kW; kx++)
                {
                    int ix;
                    if (transpose != 0)
                    {
                        int t = ox + padW - (kx * dilW);
                        if (t < 0 || t % strideW != 0) continue;
                        ix = t / strideW;
                    }
                    else
                    {
                        ix = (ox * strideW) - padW + (kx * dilW);
                    }

                    if (ix < 0 || ix >= inW) continue;
                    acc += s.Load(x, xBase + ((long)iy * inW) + ix) * s.Load(w, wBase + ((long)ky * kW) + kx);
                }
            }
        }

        s.Store(y, e, acc);
    }
}
