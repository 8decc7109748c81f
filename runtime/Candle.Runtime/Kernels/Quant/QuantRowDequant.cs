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

    private static void Q8_0(byte* w, float* y, int nb)
    {
        for (int b = 0; b < nb; b++, w += 34, y += 32)
        {
            Store(Vector256.Load((sbyte*)(w + 2)), Vector256.Create((float)Unsafe.ReadUnaligned<Half>(w)), y);
        }
    }

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
