using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// Vectorized dequantization of whole weight rows for the quantized product's prefill path (Q8_0 and Q4_0; the other
/// types go through <see cref="GgmlTypeTraits.Dequantize"/>). Same values as the block structs' dequantizers.
/// </summary>
internal static unsafe class QuantRowDequant
{
    /// <summary>Dequantizes <paramref name="rows"/> rows of <paramref name="cols"/> values from <paramref name="w"/> into row-major float32 <paramref name="dst"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows(GgmlType type, byte* w, int rowBytes, int rows, int cols, float* dst)
    {
        int nb = cols / GgmlTypeTraits.BlockSize(type);
        for (int r = 0; r < rows; r++)
        {
            byte* src = w + ((long)r * rowBytes);
            float* y = dst + ((long)r * cols);
            switch (type)
            {
                case GgmlType.Q8_0: Q8_0(src, y, nb); break;
                case GgmlType.Q4_0: Q4_0(src, y, nb); break;
                default: GgmlTypeTraits.Dequantize(type, new ReadOnlySpan<byte>(src, rowBytes), new Span<float>(y, cols)); break;
            }
        }
    }

    /// <summary>
    /// Dequantizes weight rows [<paramref name="first"/>, <paramref name="end"/>) (a multiple of 8 apart, except at the
    /// end) into the columns of a row-major float32 [<paramref name="cols"/>, <paramref name="width"/>] matrix
    /// <paramref name="dst"/> (weight row j becomes column j − <paramref name="columnBase"/>): the layout the SGEMM reads
    /// a right operand fastest in. Eight rows at a time go through <paramref name="scratch"/> (8 · cols floats).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Columns(GgmlType type, byte* w, int rowBytes, int first, int end, int cols, float* dst, int width, int columnBase, float* scratch)
    {
        for (int j0 = first; j0 < end; j0 += 8)
        {
            int count = Math.Min(8, end - j0);
            Rows(type, w + ((long)j0 * rowBytes), rowBytes, count, cols, scratch);
            float* d = dst + (j0 - columnBase);
            if (count == 8)
            {
                float* r0 = scratch, r1 = scratch + cols, r2 = scratch + (2 * cols), r3 = scratch + (3 * cols);
                float* r4 = scratch + (4 * cols), r5 = scratch + (5 * cols), r6 = scratch + (6 * cols), r7 = scratch + (7 * cols);
                for (int p = 0; p < cols; p++)
                {
                    Vector256.Create(r0[p], r1[p], r2[p], r3[p], r4[p], r5[p], r6[p], r7[p]).Store(d + ((long)p * width));
                }
            }
            else
            {
                for (int r = 0; r < count; r++)
                {
                    for (int p = 0; p < cols; p++) d[((long)p * width) + r] = scratch[((long)r * cols) + p];
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector256<sbyte> q, Vector256<float> d, float* y)
    {
        var (s0, s1) = Vector256.Widen(q);
        var (i0, i1) = Vector256.Widen(s0);
        var (i2, i3) = Vector256.Widen(s1);
        (Vector256.ConvertToSingle(i0) * d).Store(y);
        (Vector256.ConvertToSingle(i1) * d).Store(y + 8);
        (Vector256.ConvertToSingle(i2) * d).Store(y + 16);
        (Vector256.ConvertToSingle(i3) * d).Store(y + 24);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q8_0(byte* w, float* y, int nb)
    {
        for (int b = 0; b < nb; b++, w += 34, y += 32)
        {
            Store(Vector256.Load((sbyte*)(w + 2)), Vector256.Create((float)Unsafe.ReadUnaligned<Half>(w)), y);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4_0(byte* w, float* y, int nb)
    {
        var mask = Vector128.Create((byte)0x0F);
        var eight = Vector256.Create((sbyte)8);
        for (int b = 0; b < nb; b++, w += 18, y += 32)
        {
            var packed = Vector128.Load(w + 2);
            var q = Vector256.Create(packed & mask, Vector128.ShiftRightLogical(packed, 4) & mask).AsSByte() - eight;
            Store(q, Vector256.Create((float)Unsafe.ReadUnaligned<Half>(w)), y);
        }
    }
}
