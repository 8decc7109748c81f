using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// ggml's IQ4_XS (<c>block_iq4_xs</c>, 136 bytes for 256 values): f16 d, a u16 of eight 2-bit high scale parts, 4 bytes
/// of eight 4-bit low scale parts, 128 bytes of nibbles (16 per 32 values, low nibbles first as IQ4_NL). Sub-block
/// ib's 6-bit scale ls gives value = d·(ls − 32)·<see cref="NonLinear4Bit.Values"/>[nibble].
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 136)]
[SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Justification = "ggml's own type name")]
public readonly struct BlockIQ4_XS : IGgmlQuantizer
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.IQ4_XS;

    /// <inheritdoc/>
    public static int BlockSize => 256;

    /// <inheritdoc/>
    public static int BlockBytes => 136;

    /// <inheritdoc/>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int n = BlockSpans.Count<BlockIQ4_XS>(src.Length, dst.Length);
        var values = NonLinear4Bit.Values;
        for (int b = 0; b < n; b++)
        {
            var block = src.Slice(b * 136, 136);
            float d = BlockSpans.Half(block, 0);
            int scalesH = BinaryPrimitives.ReadUInt16LittleEndian(block.Slice(2, 2));
            var scalesL = block.Slice(4, 4);
            for (int ib = 0; ib < 8; ib++)
            {
                int ls = ((scalesL[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scalesH >> (2 * ib)) & 3) << 4);
                float dl = d * (ls - 32);
                var qs = block.Slice(8 + 16 * ib, 16);
                var y = dst.Slice(b * 256 + 32 * ib, 32);
                for (int j = 0; j < 16; j++)
                {
                    y[j] = dl * values[qs[j] & 0xF];
                    y[j + 16] = dl * values[qs[j] >> 4];
                }
            }
        }
    }

    /// <summary>
    /// llama.cpp's <c>quantize_iq4_xs</c> without an importance matrix: IQ4_NL's per-32 scale search, then the eight
    /// scales quantized to 6 bits against the super-block scale and the nibbles chosen again for the rounded scales.
    /// </summary>
    /// <inheritdoc/>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int n = BlockSpans.Count<BlockIQ4_XS>(dst.Length, src.Length);
        Span<float> scales = stackalloc float[8];
        for (int b = 0; b < n; b++)
        {
            NonLinear4Bit.QuantizeSuperBlock(src.Slice(b * 256, 256), dst.Slice(b * 136, 136), scales);
        }
    }
}
