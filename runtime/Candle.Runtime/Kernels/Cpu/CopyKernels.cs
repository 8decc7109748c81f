using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Args;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>Strided copies (materializing views, concatenation, padding, outputs), fills and ranges.</summary>
public static unsafe class CopyKernels
{
    /// <summary>
    /// Copies a strided view into another strided view of the same shape; arguments: <see cref="CopyArgs{T}"/>. Work
    /// items are elements in row-major order of the shape.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Copy(nint[] slots, long[] a, long start, long end)
    {
        var p = CopyArgs.Read(a);
        byte* dst = (byte*)slots[p.Dst];
        byte* src = (byte*)slots[p.Src];
        int es = (int)p.ElementSize;
        ReadOnlySpan<long> shape = p.Shape.Span, dStrides = p.DstStrides.Span, sStrides = p.SrcStrides.Span;
        int rank = shape.Length;
        if (rank == 0)
        {
            if (start < end) Unsafe.CopyBlockUnaligned(dst + (p.DstOffset * es), src + (p.SrcOffset * es), (uint)es);
            return;
        }

        long inner = shape[rank - 1];
        long dInner = dStrides[rank - 1], sInner = sStrides[rank - 1];
        long i = start;
        while (i < end)
        {
            long row = i / inner, col = i - (row * inner);
            long n = Math.Min(inner - col, end - i);
            long dOff = p.DstOffset, sOff = p.SrcOffset;
            long rem = row;
            for (int d = rank - 2; d >= 0; d--)
            {
                long size = shape[d];
                long ix = rem % size;
                rem /= size;
                dOff += ix * dStrides[d];
                sOff += ix * sStrides[d];
            }

            dOff += col * dInner;
            sOff += col * sInner;
            if (dInner == 1 && sInner == 1)
            {
                Buffer.MemoryCopy(src + (sOff * es), dst + (dOff * es), n * es, n * es);
            }
            else
            {
                switch (es)
                {
                    case 1:
                        for (long j = 0; j < n; j++) dst[dOff + (j * dInner)] = src[sOff + (j * sInner)];
                        break;
                    case 2:
                        for (long j = 0; j < n; j++) ((ushort*)dst)[dOff + (j * dInner)] = ((ushort*)src)[sOff + (j * sInner)];
                        break;
                    case 4:
                        for (long j = 0; j < n; j++) ((uint*)dst)[dOff + (j * dInner)] = ((uint*)src)[sOff + (j * sInner)];
                        break;
                    default:
                        for (long j = 0; j < n; j++) ((ulong*)dst)[dOff + (j * dInner)] = ((ulong*)src)[sOff + (j * sInner)];
                        break;
                }
            }

            i += n;
        }
    }

    /// <summary>Fills a contiguous buffer with one value; arguments: <see cref="FillArgs{T}"/>. Work items are elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Fill(nint[] slots, long[] a, long start, long end)
    {
        var p = FillArgs.Read(a);
        nint dst = slots[p.Dst];
        var dt = (DType)p.DType;
        double v = BitConverter.Int64BitsToDouble(p.ValueBits);
        if (dt == DType.F32)
        {
            new Span<float>((float*)dst + start, checked((int)(end - start))).Fill((float)v);
            return;
        }

        for (long i = start; i < end; i++) ElementIO.Write(dst, dt, i, v);
    }

    /// <summary>start + step·i; arguments: <see cref="ArangeArgs{T}"/>. Work items are elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Arange(nint[] slots, long[] a, long start, long end)
    {
        var p = ArangeArgs.Read(a);
        nint dst = slots[p.Dst];
        var dt = (DType)p.DType;
        double s0 = BitConverter.Int64BitsToDouble(p.StartBits), step = BitConverter.Int64BitsToDouble(p.StepBits);
        for (long i = start; i < end; i++) ElementIO.Write(dst, dt, i, s0 + (step * i));
    }
}
