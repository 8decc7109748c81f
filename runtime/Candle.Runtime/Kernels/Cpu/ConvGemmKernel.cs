using System.Buffers;
using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Args;
using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Threading;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// float32 convolution (NC* layout, any spatial rank, groups, stride, padding, dilation) as one matrix product per image
/// and group: the input's windows unfolded into columns (im2col, [Cin/groups · kernel, output positions], padding read as
/// zeros; skipped for a 1×1 window of stride 1 without padding, whose input already is that matrix), then
/// y[n, group] = W[group] · columns through <see cref="Sgemm"/>, bias preloaded into y. Arguments:
/// <see cref="ConvArgs{T}"/>; one work item (the unfolding and the product split over the pool themselves).
/// </summary>
public static unsafe class ConvGemmKernel
{
    /// <summary>The kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint[] slots, long[] a, long start, long end)
    {
        if (start >= end) return;
        var p = ConvArgs.Read(a);
        float* x = (float*)slots[p.X], w = (float*)slots[p.W], y = (float*)slots[p.Y];
        float* bias = p.Bias < 0 ? null : (float*)slots[p.Bias];
        var body = new Unfold
        {
            InShape = p.InSpatial.ToArray(), KShape = p.Kernel.ToArray(), OutShape = p.OutSpatial.ToArray(),
            Stride = p.Stride.ToArray(), Padding = p.Padding.ToArray(), Dilation = p.Dilation.ToArray(),
        };
        long inSize = 1, kSize = 1, outSize = 1;
        bool direct = true;
        for (int d = 0; d < body.InShape.Length; d++)
        {
            inSize *= body.InShape[d];
            kSize *= body.KShape[d];
            outSize *= body.OutShape[d];
            direct &= body.KShape[d] == 1 && body.Stride[d] == 1 && body.Padding[d] == 0 && body.OutShape[d] == body.InShape[d];
        }

        long cin = p.InChannels, cout = p.OutChannels, groups = p.Groups, cinG = cin / groups, coutG = cout / groups;
        long rows = cinG * kSize;
        body.KSize = kSize;
        body.OutSize = outSize;
        var pool = KernelPool.Current;
        float[]? rented = direct || rows == 0 ? null : ArrayPool<float>.Shared.Rent(checked((int)(rows * outSize)));
        try
        {
            fixed (float* cols = rented)
            {
                for (long n = 0; n < p.Batch; n++)
                {
                    for (long g = 0; g < groups; g++)
                    {
                        float* src = x + (((n * cin) + (g * cinG)) * inSize);
                        float* dst = y + (((n * cout) + (g * coutG)) * outSize);
                        if (bias is null)
                        {
                            if (rows == 0) new Span<float>(dst, checked((int)(coutG * outSize))).Clear();
                        }
                        else
                        {
                            for (long co = 0; co < coutG; co++) new Span<float>(dst + (co * outSize), checked((int)outSize)).Fill(bias[(g * coutG) + co]);
                        }

                        if (rows == 0) continue;
                        float* b = src;
                        if (!direct)
                        {
                            body.Src = src;
                            body.Cols = cols;
                            pool.ParallelFor(checked((int)rows), 4, ref body);
                            b = cols;
                        }

                        Sgemm.Multiply(
                            (int)coutG, (int)outSize, (int)rows,
                            w + (g * coutG * rows), (int)rows, 1,
                            b, (int)outSize, 1,
                            dst, (int)outSize, beta: bias is null ? 0f : 1f, pool: pool);
                    }
                }
            }
        }
        finally
        {
            if (rented is not null) ArrayPool<float>.Shared.Return(rented);
        }
    }

    /// <summary>Rows of the column matrix: row (c, tap) holds input channel c at that window tap for every output position.</summary>
    private struct Unfold : IParallelBody
    {
        public long[] InShape, KShape, OutShape, Stride, Padding, Dilation;
        public long KSize, OutSize;
        public float* Src, Cols;

        public readonly void Invoke(int start, int end)
        {
            int sp = InShape.Length, last = sp - 1;
            long inLast = InShape[last], outLast = OutShape[last], sLast = Stride[last];
            long inSize = 1;
            for (int d = 0; d < sp; d++) inSize *= InShape[d];
            Span<long> kpos = stackalloc long[sp];
            Span<long> opos = stackalloc long[sp];
            for (int r = start; r < end; r++)
            {
                long c = r / KSize, tap = r % KSize;
                Unflatten(tap, KShape, kpos);
                float* plane = Src + (c * inSize);
                float* row = Cols + ((long)r * OutSize);
                long lastOffset = (kpos[last] * Dilation[last]) - Padding[last];
                for (long outer = 0; outer < OutSize; outer += outLast)
                {
                    // The input row (all but the last spatial dim) this run of outputs reads, or none when it is padding.
                    Unflatten(outer, OutShape, opos);
                    long inRow = 0;
                    bool inside = true;
                    for (int d = 0; d < last; d++)
                    {
                        long pos = (opos[d] * Stride[d]) - Padding[d] + (kpos[d] * Dilation[d]);
                        inside &= pos >= 0 && pos < InShape[d];
                        inRow = (inRow * InShape[d]) + pos;
                    }

                    float* o = row + outer;
                    if (!inside)
                    {
                        new Span<float>(o, checked((int)outLast)).Clear();
                        continue;
                    }

                    // Outputs j read input (j · stride + offset) along the last dim: those in [lo, hi) fall inside it.
                    float* i = plane + (inRow * inLast) + lastOffset;
                    long lo = lastOffset >= 0 ? 0 : Math.Min(outLast, (-lastOffset + sLast - 1) / sLast);
                    long hi = inLast - lastOffset <= 0 ? lo : Math.Clamp((inLast - lastOffset + sLast - 1) / sLast, lo, outLast);
                    new Span<float>(o, checked((int)lo)).Clear();
                    if (sLast == 1)
                    {
                        new ReadOnlySpan<float>(i + lo, checked((int)(hi - lo))).CopyTo(new Span<float>(o + lo, checked((int)(hi - lo))));
                    }
                    else
                    {
                        for (long j = lo; j < hi; j++) o[j] = i[j * sLast];
                    }

                    new Span<float>(o + hi, checked((int)(outLast - hi))).Clear();
                }
            }
        }

        private static void Unflatten(long flat, long[] shape, Span<long> pos)
        {
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                pos[d] = flat % shape[d];
                flat /= shape[d];
            }
        }
    }
}
