using System.Runtime.CompilerServices;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>Strided copies (materializing views, concatenation, padding, outputs), fills and ranges.</summary>
public static unsafe class CopyKernels
{
    /// <summary>
    /// Copies a strided view into another strided view of the same shape. Args: <c>dstSlot, srcSlot, elementSize,
    /// rank, shape[rank], dstOffset, dstStrides[rank], srcOffset, srcStrides[rank]</c> (in elements). Work items are
    /// elements in row-major order of the shape.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Copy(nint[] slots, long[] a, long start, long end)
    {
        byte* dst = (byte*)slots[a[0]];
        byte* src = (byte*)slots[a[1]];
        int es = (int)a[2];
        int rank = (int)a[3];
        if (rank == 0)
        {
            if (start < end) Unsafe.CopyBlockUnaligned(dst + (a[4] * es), src + (a[5] * es), (uint)es);
            return;
        }

        int shapeAt = 4, dOffAt = 4 + rank, dStrAt = dOffAt + 1, sOffAt = dStrAt + rank, sStrAt = sOffAt + 1;
        long inner = a[shapeAt + rank - 1];
        long dInner = a[dStrAt + rank - 1], sInner = a[sStrAt + rank - 1];
        long i = start;
        while (i < end)
        {
            long row = i / inner, col = i - (row * inner);
            long n = Math.Min(inner - col, end - i);
            long dOff = a[dOffAt], sOff = a[sOffAt];
            long rem = row;
            for (int d = rank - 2; d >= 0; d--)
            {
                long size = a[shapeAt + d];
                long ix = rem % size;
                rem /= size;
                dOff += ix * a[dStrAt + d];
                sOff += ix * a[sStrAt + d];
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

    /// <summary>Fills a contiguous buffer with one value. Args: <c>dstSlot, dtype, valueBits</c>. Work items are elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Fill(nint[] slots, long[] a, long start, long end)
    {
        nint dst = slots[a[0]];
        var dt = (DType)a[1];
        double v = BitConverter.Int64BitsToDouble(a[2]);
        if (dt == DType.F32)
        {
            new Span<float>((float*)dst + start, checked((int)(end - start))).Fill((float)v);
            return;
        }

        for (long i = start; i < end; i++) ElementIO.Write(dst, dt, i, v);
    }

    /// <summary>start + step·i. Args: <c>dstSlot, dtype, startBits, stepBits</c>. Work items are elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Arange(nint[] slots, long[] a, long start, long end)
    {
        nint dst = slots[a[0]];
        var dt = (DType)a[1];
        double s0 = BitConverter.Int64BitsToDouble(a[2]), step = BitConverter.Int64BitsToDouble(a[3]);
        for (long i = start; i < end; i++) ElementIO.Write(dst, dt, i, s0 + (step * i));
    }
}
