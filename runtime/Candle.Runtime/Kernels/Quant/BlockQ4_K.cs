using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// ggml's Q4_K (<c>block_q4_K</c>, 144 bytes for 256 values): f16 d, f16 dmin, 12 bytes of eight packed 6-bit
/// scale/min pairs (one per 32 values), 128 bytes of nibbles. Each 64 values use 32 bytes: low nibbles are the first
/// 32 values, high nibbles the next 32; value = d·scale·q − dmin·min.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 144)]
[SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Justification = "ggml's own type name")]
public readonly struct BlockQ4_K : IGgmlBlock
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q4_K;

    /// <inheritdoc/>
    public static int BlockSize => 256;

    /// <inheritdoc/>
    public static int BlockBytes => 144;

    /// <inheritdoc/>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int n = BlockSpans.Count<BlockQ4_K>(src.Length, dst.Length);
        for (int b = 0; b < n; b++)
        {
            var block = src.Slice(b * 144, 144);
            float d = BlockSpans.Half(block, 0);
            float min = BlockSpans.Half(block, 2);
            var scales = block.Slice(4, 12);
            var y = dst.Slice(b * 256, 256);
            for (int j = 0; j < 4; j++)
            {
                var q = block.Slice(16 + 32 * j, 32);
                var (sc1, m1) = KQuantScales.Get(2 * j, scales);
                var (sc2, m2) = KQuantScales.Get(2 * j + 1, scales);
                float d1 = d * sc1;
                float mm1 = min * m1;
                float d2 = d * sc2;
                float mm2 = min * m2;
                var y0 = y.Slice(64 * j, 64);
                for (int l = 0; l < 32; l++)
                {
                    y0[l] = d1 * (q[l] & 0xF) - mm1;
                    y0[l + 32] = d2 * (q[l] >> 4) - mm2;
                }
            }
        }
    }
}
