using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Candle.Runtime.Tensors;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>ggml's BF16: the upper 16 bits of a float32 per "block".</summary>
[StructLayout(LayoutKind.Sequential, Size = 2)]
public readonly struct BlockBF16 : IGgmlQuantizer
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.BF16;

    /// <inheritdoc/>
    public static int BlockSize => 1;

    /// <inheritdoc/>
    public static int BlockBytes => 2;

    /// <inheritdoc/>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int n = BlockSpans.Count<BlockBF16>(src.Length, dst.Length);
        for (int i = 0; i < n; i++)
        {
            dst[i] = BFloat16Bits.ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(src.Slice(2 * i, 2)));
        }
    }

    /// <summary>Rounds each float to bfloat16 (ties to even; NaN stays NaN), as ggml's FP32_TO_BF16 does.</summary>
    /// <inheritdoc/>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int n = BlockSpans.Count<BlockBF16>(dst.Length, src.Length);
        for (int i = 0; i < n; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(dst.Slice(2 * i, 2), BFloat16Bits.FromSingle(src[i]));
        }
    }
}
