using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// ggml's Q8_0 (<c>block_q8_0</c>, 34 bytes): an f16 scale d, then 32 signed bytes q; value i = q[i]·d.
/// Also the activation format of the Q4_0 and Q8_0 integer dot products.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 34)]
[SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Justification = "ggml's own type name")]
public readonly struct BlockQ8_0 : IGgmlQuantizer, IGgmlDot
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q8_0;

    /// <inheritdoc/>
    public static int BlockSize => 32;

    /// <inheritdoc/>
    public static int BlockBytes => 34;

    /// <inheritdoc/>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int n = BlockSpans.Count<BlockQ8_0>(src.Length, dst.Length);
        for (int b = 0; b < n; b++)
        {
            var block = src.Slice(b * 34, 34);
            float d = BlockSpans.Half(block, 0);
            var y = dst.Slice(b * 32, 32);
            for (int j = 0; j < 32; j++)
            {
                y[j] = (sbyte)block[2 + j] * d;
            }
        }
    }

    /// <summary>
    /// llama.cpp's <c>quantize_row_q8_0_ref</c>: d = max|x|/127 (stored as f16), q = round(x/d) with halves away from zero,
    /// where 1/d is taken from the unrounded d.
    /// </summary>
    /// <inheritdoc/>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int n = BlockSpans.Count<BlockQ8_0>(dst.Length, src.Length);
        for (int b = 0; b < n; b++)
        {
            var x = src.Slice(b * 32, 32);
            var block = dst.Slice(b * 34, 34);
            float amax = 0;
            foreach (float v in x)
            {
                amax = MathF.Max(amax, MathF.Abs(v));
            }

            float d = amax / 127;
            float id = d != 0 ? 1.0f / d : 0.0f;
            BlockSpans.WriteHalf(block, 0, d);
            for (int j = 0; j < 32; j++)
            {
                block[2 + j] = unchecked((byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero));
            }
        }
    }

    /// <inheritdoc/>
    public static float Dot(ReadOnlySpan<byte> row, ReadOnlySpan<float> x)
    {
        int n = BlockSpans.Count<BlockQ8_0>(row.Length, x.Length);
        float total = 0;
        for (int b = 0; b < n; b++)
        {
            var block = row.Slice(b * 34, 34);
            var q = Vector256.Create(MemoryMarshal.Cast<byte, sbyte>(block.Slice(2, 32)));
            total += BlockSpans.Half(block, 0) * QuantDot.DotSBytesF32(q, x.Slice(b * 32, 32));
        }

        return total;
    }

    /// <inheritdoc/>
    public static float DotQ8_0(ReadOnlySpan<byte> row, ReadOnlySpan<byte> xQ8)
    {
        int n = BlockSpans.DotCount<BlockQ8_0>(row.Length, xQ8.Length, 34);
        float total = 0;
        for (int b = 0; b < n; b++)
        {
            var w = row.Slice(b * 34, 34);
            var a = xQ8.Slice(b * 34, 34);
            var qw = Vector256.Create(MemoryMarshal.Cast<byte, sbyte>(w.Slice(2, 32)));
            var qa = Vector256.Create(MemoryMarshal.Cast<byte, sbyte>(a.Slice(2, 32)));
            int sumi = QuantDot.DotSBytes(qw, qa);
            total += sumi * (BlockSpans.Half(w, 0) * BlockSpans.Half(a, 0));
        }

        return total;
    }
}
