using System.Runtime.InteropServices;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>ggml's F32: one little-endian float per "block".</summary>
[StructLayout(LayoutKind.Sequential, Size = 4)]
public readonly struct BlockF32 : IGgmlQuantizer
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.F32;

    /// <inheritdoc/>
    public static int BlockSize => 1;

    /// <inheritdoc/>
    public static int BlockBytes => 4;

    /// <inheritdoc/>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        BlockSpans.Count<BlockF32>(src.Length, dst.Length);
        MemoryMarshal.Cast<byte, float>(src).CopyTo(dst);
    }

    /// <inheritdoc/>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        BlockSpans.Count<BlockF32>(dst.Length, src.Length);
        MemoryMarshal.AsBytes(src).CopyTo(dst);
    }
}
