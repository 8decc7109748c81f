using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// ggml's Q2_K (<c>block_q2_K</c>, 84 bytes for 256 values): 16 bytes of 4-bit scale/min pairs (low nibble scale,
/// high nibble min, one pair per 16 values), 64 bytes of 2-bit quants, f16 d, f16 dmin;
/// value = d·scale·q − dmin·min.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 84)]
[SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Justification = "ggml's own type name")]
public readonly struct BlockQ2_K : IGgmlBlock
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q2_K;

    /// <inheritdoc/>
    public static int BlockSize => 256;

    /// <inheritdoc/>
    public static int BlockBytes => 84;

    /// <inheritdoc/>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int n = BlockSpans.Count<BlockQ2_K>(src.Length, dst.Length);
        for (int b = 0; b < n; b++)
        {
            var block = src.Slice(b * 84, 84);
            var scales = block[..16];
            float d = BlockSpans.Half(block, 80);
            float min = BlockSpans.Half(block, 82);
            var y = dst.Slice(b * 256, 256);
            int yi = 0;
            int si = 0;
            for (int half = 0; half < 2; half++)
            {
                var q = block.Slice(16 + 32 * half, 32);
                for (int shift = 0; shift < 8; shift += 2)
                {
                    for (int part = 0; part < 2; part++)
                    {
                        byte sc = scales[si++];
                        float dl = d * (sc & 0xF);
                        float ml = min * (sc >> 4);
                        for (int l = 0; l < 16; l++)
                        {
                            y[yi++] = dl * ((q[l + 16 * part] >> shift) & 3) - ml;
                        }
                    }
                }
            }
        }
    }
}
