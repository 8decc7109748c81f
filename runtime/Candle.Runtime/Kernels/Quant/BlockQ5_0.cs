using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// ggml's Q5_0 (<c>block_q5_0</c>, 22 bytes): f16 scale d, 4 bytes qh (bit j is the fifth bit of value j), 16 bytes of
/// nibbles (low nibble of byte j is value j, high nibble value j + 16); value = (q − 16)·d.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 22)]
[SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Justification = "ggml's own type name")]
public readonly struct BlockQ5_0 : IGgmlQuantizer
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q5_0;

    /// <inheritdoc/>
    public static int BlockSize => 32;

    /// <inheritdoc/>
    public static int BlockBytes => 22;

    /// <inheritdoc/>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int n = BlockSpans.Count<BlockQ5_0>(src.Length, dst.Length);
        for (int b = 0; b < n; b++)
        {
            var block = src.Slice(b * 22, 22);
            float d = BlockSpans.Half(block, 0);
            uint qh = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(2, 4));
            var y = dst.Slice(b * 32, 32);
            for (int j = 0; j < 16; j++)
            {
                int h0 = (int)((qh >> j) << 4) & 0x10;
                int h1 = (int)(qh >> (j + 12)) & 0x10;
                byte q = block[6 + j];
                y[j] = (((q & 0x0F) | h0) - 16) * d;
                y[j + 16] = (((q >> 4) | h1) - 16) * d;
            }
        }
    }

    /// <summary>llama.cpp's <c>quantize_row_q5_0_ref</c>: d = −m/16 for the value m of largest magnitude, q = min(31, trunc(x/d + 16.5)).</summary>
    /// <inheritdoc/>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int n = BlockSpans.Count<BlockQ5_0>(dst.Length, src.Length);
        for (int b = 0; b < n; b++)
        {
            var x = src.Slice(b * 32, 32);
            var block = dst.Slice(b * 22, 22);
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

            float d = max / -16;
            float id = d != 0 ? 1.0f / d : 0.0f;
            BlockSpans.WriteHalf(block, 0, d);
            uint qh = 0;
            for (int j = 0; j < 16; j++)
            {
                int x0 = Math.Min(31, BlockQ4_0.Trunc8(x[j] * id + 16.5f));
                int x1 = Math.Min(31, BlockQ4_0.Trunc8(x[j + 16] * id + 16.5f));
                block[6 + j] = (byte)((x0 & 0x0F) | ((x1 & 0x0F) << 4));
                qh |= (uint)((x0 & 0x10) >> 4) << j;
                qh |= (uint)((x1 & 0x10) >> 4) << (j + 16);
            }

            BinaryPrimitives.WriteUInt32LittleEndian(block.Slice(2, 4), qh);
        }
    }
}
