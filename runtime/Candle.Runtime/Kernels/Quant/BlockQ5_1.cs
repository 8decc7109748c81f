using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// ggml's Q5_1 (<c>block_q5_1</c>, 24 bytes): f16 scale d, f16 minimum m, 4 bytes qh (bit j is the fifth bit of
/// value j), 16 bytes of nibbles; value = q·d + m.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 24)]
[SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Justification = "ggml's own type name")]
public readonly struct BlockQ5_1 : IGgmlQuantizer
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q5_1;

    /// <inheritdoc/>
    public static int BlockSize => 32;

    /// <inheritdoc/>
    public static int BlockBytes => 24;

    /// <inheritdoc/>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int n = BlockSpans.Count<BlockQ5_1>(src.Length, dst.Length);
        for (int b = 0; b < n; b++)
        {
            var block = src.Slice(b * 24, 24);
            float d = BlockSpans.Half(block, 0);
            float m = BlockSpans.Half(block, 2);
            uint qh = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(4, 4));
            var y = dst.Slice(b * 32, 32);
            for (int j = 0; j < 16; j++)
            {
                int h0 = (int)((qh >> j) << 4) & 0x10;
                int h1 = (int)(qh >> (j + 12)) & 0x10;
                byte q = block[8 + j];
                y[j] = ((q & 0x0F) | h0) * d + m;
                y[j + 16] = ((q >> 4) | h1) * d + m;
            }
        }
    }

    /// <summary>llama.cpp's <c>quantize_row_q5_1_ref</c>: d = (max − min)/31, m = min, q = trunc((x − min)/d + 0.5).</summary>
    /// <inheritdoc/>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int n = BlockSpans.Count<BlockQ5_1>(dst.Length, src.Length);
        for (int b = 0; b < n; b++)
        {
            var x = src.Slice(b * 32, 32);
            var block = dst.Slice(b * 24, 24);
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

            float d = (max - min) / 31;
            float id = d != 0 ? 1.0f / d : 0.0f;
            BlockSpans.WriteHalf(block, 0, d);
            BlockSpans.WriteHalf(block, 2, min);
            uint qh = 0;
            for (int j = 0; j < 16; j++)
            {
                int x0 = unchecked((byte)(int)((x[j] - min) * id + 0.5f));
                int x1 = unchecked((byte)(int)((x[j + 16] - min) * id + 0.5f));
                block[8 + j] = (byte)((x0 & 0x0F) | ((x1 & 0x0F) << 4));
                qh |= (uint)((x0 & 0x10) >> 4) << j;
                qh |= (uint)((x1 & 0x10) >> 4) << (j + 16);
            }

            BinaryPrimitives.WriteUInt32LittleEndian(block.Slice(4, 4), qh);
        }
    }
}
