using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// ggml's Q4_1 (<c>block_q4_1</c>, 20 bytes): f16 scale d, f16 minimum m, then 16 bytes of nibbles (low nibble of byte j
/// is value j, high nibble value j + 16); value = nibble·d + m.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 20)]
[SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Justification = "ggml's own type name")]
public readonly struct BlockQ4_1 : IGgmlQuantizer
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q4_1;

    /// <inheritdoc/>
    public static int BlockSize => 32;

    /// <inheritdoc/>
    public static int BlockBytes => 20;

    /// <inheritdoc/>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int n = BlockSpans.Count<BlockQ4_1>(src.Length, dst.Length);
        for (int b = 0; b < n; b++)
        {
            var block = src.Slice(b * 20, 20);
            float d = BlockSpans.Half(block, 0);
            float m = BlockSpans.Half(block, 2);
            var y = dst.Slice(b * 32, 32);
            for (int j = 0; j < 16; j++)
            {
                byte q = block[4 + j];
                y[j] = (q & 0x0F) * d + m;
                y[j + 16] = (q >> 4) * d + m;
            }
        }
    }

    /// <summary>llama.cpp's <c>quantize_row_q4_1_ref</c>: d = (max − min)/15, m = min, q = min(15, trunc((x − min)/d + 0.5)).</summary>
    /// <inheritdoc/>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int n = BlockSpans.Count<BlockQ4_1>(dst.Length, src.Length);
        for (int b = 0; b < n; b++)
        {
            var x = src.Slice(b * 32, 32);
            var block = dst.Slice(b * 20, 20);
            float min = float.MaxValue;
            float max = float.MinValue;
            foreach (float v in x)
            {
                if (v < min)
                {
                    min = v;
                }

                if (v > max)
                {
                    max = v;
                }
            }

            float d = (max - min) / 15;
            float id = d != 0 ? 1.0f / d : 0.0f;
            BlockSpans.WriteHalf(block, 0, d);
            BlockSpans.WriteHalf(block, 2, min);
            for (int j = 0; j < 16; j++)
            {
                int x0 = Math.Min(15, BlockQ4_0.Trunc8((x[j] - min) * id + 0.5f));
                int x1 = Math.Min(15, BlockQ4_0.Trunc8((x[j + 16] - min) * id + 0.5f));
                block[4 + j] = (byte)(x0 | (x1 << 4));
            }
        }
    }
}
