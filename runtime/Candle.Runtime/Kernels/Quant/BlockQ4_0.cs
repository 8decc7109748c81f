using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// ggml's Q4_0 (<c>block_q4_0</c>, 18 bytes): an f16 scale d, then 16 bytes of nibbles; the low nibble of byte j is
/// value j, the high nibble value j + 16, and value = (nibble − 8)·d.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 18)]
[SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Justification = "ggml's own type name")]
public readonly struct BlockQ4_0 : IGgmlQuantizer, IGgmlDot
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q4_0;

    /// <inheritdoc/>
    public static int BlockSize => 32;

    /// <inheritdoc/>
    public static int BlockBytes => 18;

    /// <inheritdoc/>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int n = BlockSpans.Count<BlockQ4_0>(src.Length, dst.Length);
        for (int b = 0; b < n; b++)
        {
            var block = src.Slice(b * 18, 18);
            float d = BlockSpans.Half(block, 0);
            var y = dst.Slice(b * 32, 32);
            for (int j = 0; j < 16; j++)
            {
                byte q = block[2 + j];
                y[j] = ((q & 0x0F) - 8) * d;
                y[j + 16] = ((q >> 4) - 8) * d;
            }
        }
    }

    /// <summary>
    /// llama.cpp's <c>quantize_row_q4_0_ref</c>: d = −m/8 where m is the value of largest magnitude (so m maps to −8),
    /// q = min(15, trunc(x/d + 8.5)).
    /// </summary>
    /// <inheritdoc/>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int n = BlockSpans.Count<BlockQ4_0>(dst.Length, src.Length);
        for (int b = 0; b < n; b++)
        {
            var x = src.Slice(b * 32, 32);
            var block = dst.Slice(b * 18, 18);
            float amax = 0;
            float max = 0;
            foreach (float v in x)
            {
                if (amax < MathF.Abs(v))
                {
                    amax = MathF.Abs(v);
                    max = v;
                }
            }

            float d = max / -8;
            float id = d != 0 ? 1.0f / d : 0.0f;
            BlockSpans.WriteHalf(block, 0, d);
            for (int j = 0; j < 16; j++)
            {
                int x0 = Math.Min(15, Trunc8(x[j] * id + 8.5f));
                int x1 = Math.Min(15, Trunc8(x[j + 16] * id + 8.5f));
                block[2 + j] = (byte)(x0 | (x1 << 4));
            }
        }
    }

    /// <summary>C's <c>(int8_t)f</c> for the in-range values the quantizers produce.</summary>
    internal static int Trunc8(float f) => unchecked((sbyte)(int)f);

    /// <inheritdoc/>
    public static float Dot(ReadOnlySpan<byte> row, ReadOnlySpan<float> x)
    {
        int n = BlockSpans.Count<BlockQ4_0>(row.Length, x.Length);
        float total = 0;
        for (int b = 0; b < n; b++)
        {
            var block = row.Slice(b * 18, 18);
            var q = QuantDot.UnpackNibbles(block.Slice(2, 16), 8);
            total += BlockSpans.Half(block, 0) * QuantDot.DotSBytesF32(q, x.Slice(b * 32, 32));
        }

        return total;
    }

    /// <inheritdoc/>
    public static float DotQ8_0(ReadOnlySpan<byte> row, ReadOnlySpan<byte> xQ8)
    {
        int n = BlockSpans.DotCount<BlockQ4_0>(row.Length, xQ8.Length, 34);
        float total = 0;
        for (int b = 0; b < n; b++)
        {
            var w = row.Slice(b * 18, 18);
            var a = xQ8.Slice(b * 34, 34);
            var qw = QuantDot.UnpackNibbles(w.Slice(2, 16), 8);
            var qa = Vector256.Create(MemoryMarshal.Cast<byte, sbyte>(a.Slice(2, 32)));
            int sumi = QuantDot.DotSBytes(qw, qa);
            total += sumi * (BlockSpans.Half(w, 0) * BlockSpans.Half(a, 0));
        }

        return total;
    }
}
