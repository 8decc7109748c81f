using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// ggml's Q8_1 (<c>block_q8_1</c>, 36 bytes): f16 scale d, f16 s = d·Σq, then 32 signed bytes q; value i = q[i]·d.
/// An activation format of llama.cpp's Q4_1/Q5_1 dot products; converters do not store it.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 36)]
[SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Justification = "ggml's own type name")]
public readonly struct BlockQ8_1 : IGgmlBlock
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q8_1;

    /// <inheritdoc/>
    public static int BlockSize => 32;

    /// <inheritdoc/>
    public static int BlockBytes => 36;

    /// <inheritdoc/>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int n = BlockSpans.Count<BlockQ8_1>(src.Length, dst.Length);
        for (int b = 0; b < n; b++)
        {
            var block = src.Slice(b * 36, 36);
            float d = BlockSpans.Half(block, 0);
            var y = dst.Slice(b * 32, 32);
            for (int j = 0; j < 32; j++)
            {
                y[j] = (sbyte)block[4 + j] * d;
            }
        }
    }
}
