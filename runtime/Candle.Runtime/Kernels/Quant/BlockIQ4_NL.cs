using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// ggml's IQ4_NL (<c>block_iq4_nl</c>, 18 bytes): an f16 scale d, then 16 bytes of nibbles; the low nibble of byte j is
/// value j, the high nibble value j + 16, and value = d·<see cref="NonLinear4Bit.Values"/>[nibble] (a non-linear table).
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 18)]
[SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Justification = "ggml's own type name")]
public readonly struct BlockIQ4_NL : IGgmlQuantizer
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.IQ4_NL;

    /// <inheritdoc/>
    public static int BlockSize => 32;

    /// <inheritdoc/>
    public static int BlockBytes => 18;

    /// <inheritdoc/>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int n = BlockSpans.Count<BlockIQ4_NL>(src.Length, dst.Length);
        var values = NonLinear4Bit.Values;
        for (int b = 0; b < n; b++)
        {
            var block = src.Slice(b * 18, 18);
            float d = BlockSpans.Half(block, 0);
            var y = dst.Slice(b * 32, 32);
            for (int j = 0; j < 16; j++)
            {
                byte q = block[2 + j];
                y[j] = d * values[q & 0x0F];
                y[j + 16] = d * values[q >> 4];
            }
        }
    }

    /// <summary>
    /// llama.cpp's <c>quantize_iq4_nl</c> without an importance matrix (what <c>llama-quantize</c> writes): per block, the
    /// scale that best fits the table in the x²-weighted least-squares sense over 15 candidate scales.
    /// </summary>
    /// <inheritdoc/>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int n = BlockSpans.Count<BlockIQ4_NL>(dst.Length, src.Length);
        Span<float> scale = stackalloc float[1];
        for (int b = 0; b < n; b++)
        {
            NonLinear4Bit.QuantizeSuperBlock(src.Slice(b * 32, 32), dst.Slice(b * 18, 18), scale);
        }
    }
}
