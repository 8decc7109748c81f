using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// ggml's Q8_K (<c>block_q8_K</c>, 292 bytes for 256 values): f32 d, 256 signed bytes q, sixteen int16 sums of each
/// 16 quants; value = q·d. The activation format of the K-quant dot products.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 292)]
[SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Justification = "ggml's own type name")]
public readonly struct BlockQ8_K : IGgmlBlock
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q8_K;

    /// <inheritdoc/>
    public static int BlockSize => 256;

    /// <inheritdoc/>
    public static int BlockBytes => 292;

    /// <inheritdoc/>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int n = BlockSpans.Count<BlockQ8_K>(src.Length, dst.Length);
        for (int b = 0; b < n; b++)
        {
            var block = src.Slice(b * 292, 292);
            float d = BinaryPrimitives.ReadSingleLittleEndian(block);
            var y = dst.Slice(b * 256, 256);
            for (int j = 0; j < 256; j++)
            {
                y[j] = d * (sbyte)block[4 + j];
            }
        }
    }
}
