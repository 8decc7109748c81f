using System.Buffers.Binary;
using Candle.Runtime.Kernels.Quant;

namespace Candle.Runtime.Tests.Gguf;

/// <summary>
/// The legacy quantizers against blocks worked out by hand from llama.cpp's <c>quantize_row_*_ref</c> rules: the scale
/// from the block's extremes, then truncation of x/d plus the rounding offset (8.5, 16.5 or 0.5) with the clamp.
/// Inputs sit a little either side of the rounding points so a wrong rounding rule changes the expected quants.
/// </summary>
public sealed class LegacyQuantizeBlockTests
{
    private static int Nibble(byte[] block, int qsOffset, int j) =>
        j < 16 ? block[qsOffset + j] & 0xF : block[qsOffset + j - 16] >> 4;

    [Fact]
    public void Q4_1UsesTheMinimumAndRoundsHalfUp()
    {
        // min −3.5, max 11.5: d = 15/15 = 1, m = −3.5, q = trunc(x + 3.5 + 0.5).
        var x = new float[32];
        var expected = new int[32];
        for (int j = 0; j < 32; j++)
        {
            int q = j % 16;
            float offset = j < 16 ? 0.49f : -0.49f;
            x[j] = q - 3.5f + (q is 0 or 15 ? 0 : offset);
            expected[j] = q;
        }

        x[5] = 1.5f + 0.51f; // 5.51 above the minimum → 6
        expected[5] = 6;
        var b = new byte[20];
        GgmlTypeTraits.Quantize(GgmlType.Q4_1, x, b);
        Assert.Equal((Half)1.0, BinaryPrimitives.ReadHalfLittleEndian(b));
        Assert.Equal((Half)(-3.5), BinaryPrimitives.ReadHalfLittleEndian(b.AsSpan(2)));
        for (int j = 0; j < 32; j++) Assert.Equal(expected[j], Nibble(b, 4, j));
    }

    [Fact]
    public void Q5_0ScalesByTheLargestMagnitudeOverMinus16AndClampsAt31()
    {
        // The value −16 has the largest magnitude: d = −16 / −16 = 1, q = min(31, trunc(x + 16.5)).
        float[] x = [-16, 15.4f, 15.6f, 0.49f, 0.51f, -0.6f, -15.49f, 7, .. new float[24]];
        int[] expected = [0, 31, 31, 16, 17, 15, 1, 23, .. Enumerable.Repeat(16, 24)];
        var b = new byte[22];
        GgmlTypeTraits.Quantize(GgmlType.Q5_0, x, b);
        Assert.Equal((Half)1.0, BinaryPrimitives.ReadHalfLittleEndian(b));
        uint qh = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(2));
        for (int j = 0; j < 32; j++)
        {
            int q = Nibble(b, 6, j) | (int)((qh >> j) & 1) << 4;
            Assert.Equal(expected[j], q);
        }
    }

    [Fact]
    public void Q5_1UsesTheMinimumAndAFifthBit()
    {
        // min −2, max 29: d = 31/31 = 1, m = −2, q = trunc(x + 2 + 0.5).
        float[] x = [-2, 29, 3.49f, 3.51f, 13.6f, 14.4f, .. Enumerable.Repeat(0f, 26)];
        int[] expected = [0, 31, 5, 6, 16, 16, .. Enumerable.Repeat(2, 26)];
        var b = new byte[24];
        GgmlTypeTraits.Quantize(GgmlType.Q5_1, x, b);
        Assert.Equal((Half)1.0, BinaryPrimitives.ReadHalfLittleEndian(b));
        Assert.Equal((Half)(-2.0), BinaryPrimitives.ReadHalfLittleEndian(b.AsSpan(2)));
        uint qh = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(4));
        for (int j = 0; j < 32; j++)
        {
            Assert.Equal(expected[j], Nibble(b, 8, j) | (int)((qh >> j) & 1) << 4);
        }
    }

    [Fact]
    public void Q8_0RoundsHalfAwayFromZero()
    {
        // amax 127: d = 1, q = round(x) with halves away from zero (C's roundf).
        float[] x = [127, -2.5f, 2.5f, -0.5f, 0.5f, 1.49f, -126.5f, .. new float[25]];
        int[] expected = [127, -3, 3, -1, 1, 1, -127, .. new int[25]];
        var b = new byte[34];
        GgmlTypeTraits.Quantize(GgmlType.Q8_0, x, b);
        Assert.Equal((Half)1.0, BinaryPrimitives.ReadHalfLittleEndian(b));
        for (int j = 0; j < 32; j++) Assert.Equal(expected[j], (sbyte)b[2 + j]);
    }

    [Fact]
    public void Q4_0TruncatesAfterAdding8Point5()
    {
        // The value 8 has the largest magnitude: d = 8 / −8 = −1, q = min(15, trunc(−x + 8.5)).
        float[] x = [8, -7, -7.6f, 0.49f, 0.51f, -0.4f, .. new float[26]];
        int[] expected = [0, 15, 15, 8, 7, 8, .. Enumerable.Repeat(8, 26)];
        var b = new byte[18];
        GgmlTypeTraits.Quantize(GgmlType.Q4_0, x, b);
        Assert.Equal((Half)(-1.0), BinaryPrimitives.ReadHalfLittleEndian(b));
        for (int j = 0; j < 32; j++) Assert.Equal(expected[j], Nibble(b, 2, j));
    }
}
