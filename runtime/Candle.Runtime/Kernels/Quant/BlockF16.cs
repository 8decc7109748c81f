using System.Runtime.InteropServices;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>ggml's F16: one little-endian IEEE half per "block".</summary>
[StructLayout(LayoutKind.Sequential, Size = 2)]
public readonly struct BlockF16 : IGgmlQuantizer
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.F16;

    /// <inheritdoc/>
    public static int BlockSize => 1;

    /// <inheritdoc/>
    public static int BlockBytes => 2;

    /// <inheritdoc/>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int n = BlockSpans.Count<BlockF16>(src.Length, dst.Length);
        var h = MemoryMarshal.Cast<byte, Half>(src);
        for (int i = 0; i < n; i++)
        {
            dst[i] = (float)h[i];
        }
    }

    /// <summary>Rounds each float to the nearest half (ties to even).</summary>
    /// <inheritdoc/>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int n = BlockSpans.Count<BlockF16>(dst.Length, src.Length);
        var h = MemoryMarshal.Cast<byte, Half>(dst);
        for (int i = 0; i < n; i++)
        {
            h[i] = (Half)src[i];
        }
    }
}
