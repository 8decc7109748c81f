using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// Activations quantized on the fly for the integer dot products, as llama.cpp does before a quantized matmul: each
/// weight type names the 8-bit format of the activations it is multiplied with (ggml's <c>vec_dot_type</c>).
/// </summary>
internal static class QuantActivations
{
    /// <summary>
    /// The activation format of <paramref name="weight"/>'s integer dot product: Q8_0 for Q4_0, Q5_0, IQ4_NL and Q8_0, Q8_1
    /// for Q4_1 and Q5_1, Q8_K for the k-quants and IQ4_XS; F32 for the types whose product dequantizes each weight row instead.
    /// </summary>
    public static GgmlType VecDotType(GgmlType weight) => weight switch
    {
        GgmlType.Q4_0 or GgmlType.Q8_0 or GgmlType.Q5_0 or GgmlType.IQ4_NL => GgmlType.Q8_0,
        GgmlType.Q4_1 or GgmlType.Q5_1 => GgmlType.Q8_1,
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.IQ4_XS => GgmlType.Q8_K,
        _ => GgmlType.F32,
    };

    /// <summary>
    /// Quantizes whole 32-value blocks to Q8_0 as llama.cpp's x86 <c>quantize_row_q8_0</c>: d = max|x|/127 stored as f16,
    /// q = x·(127/max|x|) rounded to nearest, ties to even.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeQ8_0(ReadOnlySpan<float> x, Span<byte> dst)
    {
        int nb = x.Length / 32;
        if (x.Length % 32 != 0 || dst.Length != nb * 34) throw new ArgumentException($"q8_0: {x.Length} values do not fill {dst.Length / 34} blocks");
        ref float xr = ref MemoryMarshal.GetReference(x);
        for (int b = 0; b < nb; b++)
        {
            var block = dst.Slice(b * 34, 34);
            var q = Block32(ref xr, b, out float d, out _);
            BlockSpans.WriteHalf(block, 0, d);
            q.AsByte().StoreUnsafe(ref MemoryMarshal.GetReference(block), 2);
        }
    }

    /// <summary>
    /// Quantizes whole 32-value blocks to Q8_1 as llama.cpp's x86 <c>quantize_row_q8_1</c>: d = max|x|/127 and
    /// s = d·Σq stored as f16, q = x·(127/max|x|) rounded to nearest, ties to even.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeQ8_1(ReadOnlySpan<float> x, Span<byte> dst)
    {
        int nb = x.Length / 32;
        if (x.Length % 32 != 0 || dst.Length != nb * 36) throw new ArgumentException($"q8_1: {x.Length} values do not fill {dst.Length / 36} blocks");
        ref float xr = ref MemoryMarshal.GetReference(x);
        for (int b = 0; b < nb; b++)
        {
            var block = dst.Slice(b * 36, 36);
            var q = Block32(ref xr, b, out float d, out int sum);
            BlockSpans.WriteHalf(block, 0, d);
            BlockSpans.WriteHalf(block, 2, sum * d);
            q.AsByte().StoreUnsafe(ref MemoryMarshal.GetReference(block), 4);
        }
    }

    /// <summary>
    /// The 32 quants of block <paramref name="b"/> as llama.cpp's x86 q8_0/q8_1 rows make them: d = max|x|/127,
    /// q = x·(127/max|x|) rounded to nearest (ties to even); also Σq.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Block32(ref float xr, int b, out float d, out int sum)
    {
        var v0 = Vector256.LoadUnsafe(ref xr, (nuint)(b * 32));
        var v1 = Vector256.LoadUnsafe(ref xr, (nuint)(b * 32 + 8));
        var v2 = Vector256.LoadUnsafe(ref xr, (nuint)(b * 32 + 16));
        var v3 = Vector256.LoadUnsafe(ref xr, (nuint)(b * 32 + 24));
        var m = Vector256.Max(Vector256.Max(Vector256.Abs(v0), Vector256.Abs(v1)), Vector256.Max(Vector256.Abs(v2), Vector256.Abs(v3)));
        float amax = HorizontalMax(m);
        d = amax / 127f;
        var id = Vector256.Create(amax != 0 ? 127f / amax : 0f);
        var q0 = Vector256.ConvertToInt32(Vector256.Round(v0 * id));
        var q1 = Vector256.ConvertToInt32(Vector256.Round(v1 * id));
        var q2 = Vector256.ConvertToInt32(Vector256.Round(v2 * id));
        var q3 = Vector256.ConvertToInt32(Vector256.Round(v3 * id));
        sum = Vector256.Sum(q0 + q1 + q2 + q3);
        return Vector256.Narrow(Vector256.Narrow(q0, q1), Vector256.Narrow(q2, q3));
    }

    /// <summary>
    /// Quantizes whole 256-value blocks to Q8_K as llama.cpp's <c>quantize_row_q8_K_ref</c>: the value of largest
    /// magnitude maps to −127, q = nearest_int(x·(−127/max)) (ties to even), d = 1/scale as f32, and the 16 sums of 16 quants.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeQ8_K(ReadOnlySpan<float> x, Span<byte> dst)
    {
        int nb = x.Length / 256;
        if (x.Length % 256 != 0 || dst.Length != nb * 292) throw new ArgumentException($"q8_K: {x.Length} values do not fill {dst.Length / 292} blocks");
        ref float xr = ref MemoryMarshal.GetReference(x);
        for (int b = 0; b < nb; b++)
        {
            var xs = x.Slice(b * 256, 256);
            var block = dst.Slice(b * 292, 292);
            var m = Vector256<float>.Zero;
            for (int j = 0; j < 256; j += 8)
            {
                m = Vector256.Max(m, Vector256.Abs(Vector256.LoadUnsafe(ref xr, (nuint)(b * 256 + j))));
            }

            float amax = HorizontalMax(m);
            if (amax == 0)
            {
                block.Clear();
                continue;
            }

            float max = 0;
            foreach (float v in xs)
            {
                if (MathF.Abs(v) == amax)
                {
                    max = v;
                    break;
                }
            }

            float iscale = -127f / max;
            var vs = Vector256.Create(iscale);
            var qs = block.Slice(4, 256);
            for (int j = 0; j < 256; j += 32)
            {
                var q0 = Vector256.ConvertToInt32(Vector256.Round(Vector256.LoadUnsafe(ref xr, (nuint)(b * 256 + j)) * vs));
                var q1 = Vector256.ConvertToInt32(Vector256.Round(Vector256.LoadUnsafe(ref xr, (nuint)(b * 256 + j + 8)) * vs));
                var q2 = Vector256.ConvertToInt32(Vector256.Round(Vector256.LoadUnsafe(ref xr, (nuint)(b * 256 + j + 16)) * vs));
                var q3 = Vector256.ConvertToInt32(Vector256.Round(Vector256.LoadUnsafe(ref xr, (nuint)(b * 256 + j + 24)) * vs));
                var lim = Vector256.Create(127);
                var s = Vector256.Narrow(
                    Vector256.Narrow(Vector256.Min(q0, lim), Vector256.Min(q1, lim)),
                    Vector256.Narrow(Vector256.Min(q2, lim), Vector256.Min(q3, lim)));
                s.AsByte().StoreUnsafe(ref MemoryMarshal.GetReference(qs), (nuint)j);
            }

            var q = MemoryMarshal.Cast<byte, sbyte>(qs);
            for (int g = 0; g < 16; g++)
            {
                int sum = 0;
                for (int i = 0; i < 16; i++) sum += q[(g * 16) + i];
                BinaryPrimitives.WriteInt16LittleEndian(block.Slice(260 + (2 * g), 2), (short)sum);
            }

            BinaryPrimitives.WriteSingleLittleEndian(block, 1 / iscale);
        }
    }

    /// <summary>Quantizes one row of activations to <paramref name="format"/> (Q8_0, Q8_1 or Q8_K).</summary>
    public static void Quantize(GgmlType format, ReadOnlySpan<float> x, Span<byte> dst)
    {
        switch (format)
        {
            case GgmlType.Q8_0: QuantizeQ8_0(x, dst); break;
            case GgmlType.Q8_1: QuantizeQ8_1(x, dst); break;
            case GgmlType.Q8_K: QuantizeQ8_K(x, dst); break;
            default: throw new NotSupportedException($"activations are not quantized to {GgmlTypeTraits.Name(format)}");
        }
    }

    /// <summary>The bytes of one row of <paramref name="cols"/> activations in <paramref name="format"/>.</summary>
    public static int RowBytes(GgmlType format, int cols) => format switch
    {
        GgmlType.Q8_0 => cols / 32 * 34,
        GgmlType.Q8_1 => cols / 32 * 36,
        GgmlType.Q8_K => cols / 256 * 292,
        _ => cols * sizeof(float),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float HorizontalMax(Vector256<float> m)
    {
        var h = Vector128.Max(m.GetLower(), m.GetUpper());
        h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(2, 3, 0, 1)));
        h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(1, 0, 3, 2)));
        return h.ToScalar();
    }
}
