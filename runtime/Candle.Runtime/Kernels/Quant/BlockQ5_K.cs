using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// ggml's Q5_K (<c>block_q5_K</c>, 176 bytes for 256 values): f16 d, f16 dmin, 12 bytes of packed 6-bit scale/min
/// pairs, 32 bytes qh (fifth bits: bit 2k and 2k+1 of qh[l] belong to the k-th 64 values), 128 bytes of nibbles laid
/// out as in Q4_K; value = d·scale·q − dmin·min.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 176)]
[SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Justification = "ggml's own type name")]
public readonly struct BlockQ5_K : IGgmlBlock
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q5_K;

    /// <inheritdoc/>
    public static int BlockSize => 256;

    /// <inheritdoc/>
    public static int BlockBytes => 176;

    /// <inheritdoc/>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int n = BlockSpans.Count<BlockQ5_K>(src.Length, dst.Length);
        for (int b = 0; b < n; b++)
        {
            var block = src.Slice(b * 176, 176);
            float d = BlockSpans.Half(block, 0);
            float min = BlockSpans.Half(block, 2);
            var scales = block.Slice(4, 12);
            var qh = block.Slice(16, 32);
            var y = dst.Slice(b * 256, 256);
            int u1 = 1;
            int u2 = 2;
            for (int j = 0; j < 4; j++)
            {
                var ql = block.Slice(48 + 32 * j, 32);
                var (sc1, m1) = KQuantScales.Get(2 * j, scales);
                var (sc2, m2) = KQuantScales.Get(2 * j + 1, scales);
                float d1 = d * sc1;
                float mm1 = min * m1;
                float d2 = d * sc2;
                float mm2 = min * m2;
                var y0 = y.Slice(64 * j, 64);
                for (int l = 0; l < 32; l++)
                {
                    y0[l] = d1 * ((ql[l] & 0xF) + ((qh[l] & u1) != 0 ? 16 : 0)) - mm1;
                    y0[l + 32] = d2 * ((ql[l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - mm2;
                }

                u1 <<= 2;
                u2 <<= 2;
            }
        }
    }
}
