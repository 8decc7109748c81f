using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Quant;

namespace Candle.Runtime.Tests.Gguf;

/// <summary>
/// Each block format against blocks built by hand from the format's definition, with the expected values computed
/// from the chosen scales and quants (not by the code under test).
/// </summary>
public sealed class BlockDequantizeTests
{
    private static void Half(byte[] b, int offset, double value) =>
        BinaryPrimitives.WriteHalfLittleEndian(b.AsSpan(offset, 2), (Half)value);

    private static float[] Run<T>(byte[] block)
        where T : IGgmlBlock
    {
        Assert.Equal(T.BlockBytes, block.Length);
        var y = new float[T.BlockSize];
        T.Dequantize(block, y);
        var viaTraits = new float[T.BlockSize];
        GgmlTypeTraits.Dequantize(T.Type, block, viaTraits);
        Assert.Equal(y, viaTraits);
        return y;
    }

    [Fact]
    public void StructSizesAndTraitsMatchGgml()
    {
        Assert.Equal(18, Unsafe.SizeOf<BlockQ4_0>());
        Assert.Equal(20, Unsafe.SizeOf<BlockQ4_1>());
        Assert.Equal(22, Unsafe.SizeOf<BlockQ5_0>());
        Assert.Equal(24, Unsafe.SizeOf<BlockQ5_1>());
        Assert.Equal(34, Unsafe.SizeOf<BlockQ8_0>());
        Assert.Equal(36, Unsafe.SizeOf<BlockQ8_1>());
        Assert.Equal(84, Unsafe.SizeOf<BlockQ2_K>());
        Assert.Equal(110, Unsafe.SizeOf<BlockQ3_K>());
        Assert.Equal(144, Unsafe.SizeOf<BlockQ4_K>());
        Assert.Equal(176, Unsafe.SizeOf<BlockQ5_K>());
        Assert.Equal(210, Unsafe.SizeOf<BlockQ6_K>());
        Assert.Equal(292, Unsafe.SizeOf<BlockQ8_K>());
        Assert.Equal(BlockQ4_K.BlockBytes, GgmlTypeTraits.BlockBytes(GgmlType.Q4_K));
        Assert.Equal(256, GgmlTypeTraits.BlockSize(GgmlType.Q6_K));
        Assert.Equal("q4_K", GgmlTypeTraits.Name(GgmlType.Q4_K));
        Assert.Equal("q8_0", GgmlTypeTraits.Name(GgmlType.Q8_0));
        Assert.Equal("bf16", GgmlTypeTraits.Name(GgmlType.BF16));
        Assert.False(GgmlTypeTraits.IsDefined((GgmlType)4));
        Assert.False(GgmlTypeTraits.IsDefined((GgmlType)40));
        Assert.Equal(18 * 3, GgmlTypeTraits.ByteCount(GgmlType.Q4_0, 96));
        Assert.Throws<ArgumentException>(() => GgmlTypeTraits.ByteCount(GgmlType.Q4_0, 33));
    }

    [Fact]
    public void PlainTypes()
    {
        var f32 = new byte[8];
        BinaryPrimitives.WriteSingleLittleEndian(f32, 1.5f);
        BinaryPrimitives.WriteSingleLittleEndian(f32.AsSpan(4), -2.25f);
        var y = new float[2];
        BlockF32.Dequantize(f32, y);
        Assert.Equal([1.5f, -2.25f], y);

        byte[] f16 = [0x00, 0x3C, 0x00, 0xC0]; // 1.0, -2.0
        BlockF16.Dequantize(f16, y);
        Assert.Equal([1.0f, -2.0f], y);

        byte[] bf16 = [0x80, 0x3F, 0x40, 0xC0]; // 1.0, -3.0
        BlockBF16.Dequantize(bf16, y);
        Assert.Equal([1.0f, -3.0f], y);
    }

    [Fact]
    public void IntegerAndF64TypesConvertTheirLittleEndianValues()
    {
        var y = new float[2];
        var f64 = new byte[16];
        BinaryPrimitives.WriteDoubleLittleEndian(f64, 0.1);
        BinaryPrimitives.WriteDoubleLittleEndian(f64.AsSpan(8), -1e10);
        GgmlTypeTraits.Dequantize(GgmlType.F64, f64, y);
        Assert.Equal([0.1f, -1e10f], y);

        GgmlTypeTraits.Dequantize(GgmlType.I8, [0x80, 0x7F], y);
        Assert.Equal([-128f, 127f], y);
        GgmlTypeTraits.Dequantize(GgmlType.I16, [0x00, 0x80, 0x39, 0x30], y); // −32768, 12345
        Assert.Equal([-32768f, 12345f], y);
        GgmlTypeTraits.Dequantize(GgmlType.I32, [0xFF, 0xFF, 0xFF, 0xFF, 0x40, 0x42, 0x0F, 0x00], y); // −1, 1000000
        Assert.Equal([-1f, 1_000_000f], y);
        var i64 = new byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(i64, -5);
        BinaryPrimitives.WriteInt64LittleEndian(i64.AsSpan(8), 1L << 40);
        GgmlTypeTraits.Dequantize(GgmlType.I64, i64, y);
        Assert.Equal([-5f, 1099511627776f], y);
        Assert.Throws<ArgumentException>(() => GgmlTypeTraits.Dequantize(GgmlType.I32, new byte[7], y));
    }

    [Fact]
    public void Q4_0LowNibblesAreTheFirstHalfHighNibblesTheSecond()
    {
        var b = new byte[18];
        Half(b, 0, 0.5);
        for (int j = 0; j < 16; j++)
        {
            b[2 + j] = (byte)(j | ((15 - j) << 4));
        }

        var y = Run<BlockQ4_0>(b);
        for (int j = 0; j < 16; j++)
        {
            Assert.Equal((j - 8) * 0.5f, y[j]);
            Assert.Equal((15 - j - 8) * 0.5f, y[j + 16]);
        }
    }

    [Fact]
    public void Q4_1AddsTheMinimum()
    {
        var b = new byte[20];
        Half(b, 0, 0.25);
        Half(b, 2, -1.0);
        for (int j = 0; j < 16; j++)
        {
            b[4 + j] = (byte)(j | (((j + 1) % 16) << 4));
        }

        var y = Run<BlockQ4_1>(b);
        for (int j = 0; j < 16; j++)
        {
            Assert.Equal(j * 0.25f - 1, y[j]);
            Assert.Equal((j + 1) % 16 * 0.25f - 1, y[j + 16]);
        }
    }

    [Fact]
    public void Q5_0TakesTheFifthBitFromQh()
    {
        const uint qh = 0xA5A5_0F0F;
        var b = new byte[22];
        Half(b, 0, 1.0);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(2), qh);
        for (int j = 0; j < 16; j++)
        {
            b[6 + j] = (byte)(j | ((15 - j) << 4));
        }

        var y = Run<BlockQ5_0>(b);
        for (int j = 0; j < 16; j++)
        {
            int lo = j | (int)((qh >> j) & 1) << 4;
            int hi = (15 - j) | (int)((qh >> (j + 16)) & 1) << 4;
            Assert.Equal(lo - 16, y[j]);
            Assert.Equal(hi - 16, y[j + 16]);
        }
    }

    [Fact]
    public void Q5_1TakesTheFifthBitFromQhAndAddsTheMinimum()
    {
        const uint qh = 0x1234_ABCD;
        var b = new byte[24];
        Half(b, 0, 0.5);
        Half(b, 2, 2.0);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), qh);
        for (int j = 0; j < 16; j++)
        {
            b[8 + j] = (byte)(((j * 3) & 15) | ((j & 15) << 4));
        }

        var y = Run<BlockQ5_1>(b);
        for (int j = 0; j < 16; j++)
        {
            int lo = ((j * 3) & 15) | (int)((qh >> j) & 1) << 4;
            int hi = j | (int)((qh >> (j + 16)) & 1) << 4;
            Assert.Equal(lo * 0.5f + 2, y[j]);
            Assert.Equal(hi * 0.5f + 2, y[j + 16]);
        }
    }

    [Fact]
    public void Q8_0AndQ8_1AndQ8_KAreSignedBytesTimesTheScale()
    {
        var b = new byte[34];
        Half(b, 0, 0.25);
        for (int j = 0; j < 32; j++)
        {
            b[2 + j] = unchecked((byte)(sbyte)(j * 8 - 128));
        }

        var y = Run<BlockQ8_0>(b);
        for (int j = 0; j < 32; j++)
        {
            Assert.Equal((j * 8 - 128) * 0.25f, y[j]);
        }

        var b1 = new byte[36];
        Half(b1, 0, 2.0);
        Half(b1, 2, 99.0);
        for (int j = 0; j < 32; j++)
        {
            b1[4 + j] = unchecked((byte)(sbyte)(j - 16));
        }

        var y1 = Run<BlockQ8_1>(b1);
        for (int j = 0; j < 32; j++)
        {
            Assert.Equal((j - 16) * 2.0f, y1[j]);
        }

        var k = new byte[292];
        BinaryPrimitives.WriteSingleLittleEndian(k, 0.125f);
        for (int j = 0; j < 256; j++)
        {
            k[4 + j] = unchecked((byte)(sbyte)(j - 128));
        }

        var yk = Run<BlockQ8_K>(k);
        for (int j = 0; j < 256; j++)
        {
            Assert.Equal((j - 128) * 0.125f, yk[j]);
        }
    }

    /// <summary>Packs eight 6-bit (scale, min) pairs as ggml's K-quant scale bytes.</summary>
    private static byte[] PackScaleMin(int[] sc, int[] mn)
    {
        var s = new byte[12];
        for (int j = 0; j < 8; j++)
        {
            if (j < 4)
            {
                s[j] = (byte)sc[j];
                s[j + 4] = (byte)mn[j];
            }
            else
            {
                s[j + 4] = (byte)((sc[j] & 0xF) | ((mn[j] & 0xF) << 4));
                s[j - 4] |= (byte)((sc[j] >> 4) << 6);
                s[j] |= (byte)((mn[j] >> 4) << 6);
            }
        }

        return s;
    }

    [Fact]
    public void Q4_KUsesSixBitScalesAndMinsPerThirtyTwoValues()
    {
        int[] sc = [1, 7, 20, 63, 33, 48, 5, 60];
        int[] mn = [0, 3, 62, 17, 40, 2, 63, 31];
        var b = new byte[144];
        Half(b, 0, 1.0);
        Half(b, 2, 0.5);
        PackScaleMin(sc, mn).CopyTo(b, 4);
        for (int pair = 0; pair < 4; pair++)
        {
            for (int l = 0; l < 32; l++)
            {
                int q0 = (l + 2 * pair) % 16;
                int q1 = (l + 2 * pair + 1) % 16;
                b[16 + 32 * pair + l] = (byte)(q0 | (q1 << 4));
            }
        }

        var y = Run<BlockQ4_K>(b);
        for (int s = 0; s < 8; s++)
        {
            for (int l = 0; l < 32; l++)
            {
                int q = (l + s) % 16;
                Assert.Equal(1.0f * sc[s] * q - 0.5f * mn[s], y[32 * s + l]);
            }
        }
    }

    [Fact]
    public void Q5_KTakesTheFifthBitOfSubBlockSFromBitSOfQh()
    {
        int[] sc = [2, 9, 61, 30, 45, 1, 16, 63];
        int[] mn = [5, 0, 8, 63, 21, 34, 1, 12];
        var b = new byte[176];
        Half(b, 0, 0.25);
        Half(b, 2, 0.125);
        PackScaleMin(sc, mn).CopyTo(b, 4);
        for (int s = 0; s < 8; s++)
        {
            for (int l = 0; l < 32; l++)
            {
                int q = (3 * l + s) % 32;
                int byteIndex = 48 + 32 * (s / 2) + l;
                b[byteIndex] |= (byte)((q & 0xF) << (s % 2 == 0 ? 0 : 4));
                b[16 + l] |= (byte)((q >> 4) << s);
            }
        }

        var y = Run<BlockQ5_K>(b);
        for (int s = 0; s < 8; s++)
        {
            for (int l = 0; l < 32; l++)
            {
                int q = (3 * l + s) % 32;
                Assert.Equal(0.25f * sc[s] * q - 0.125f * mn[s], y[32 * s + l]);
            }
        }
    }

    [Fact]
    public void Q6_KSplitsEachQuantIntoFourLowAndTwoHighBits()
    {
        var b = new byte[210];
        Half(b, 208, 0.5);
        for (int i = 0; i < 16; i++)
        {
            b[192 + i] = unchecked((byte)(sbyte)(3 * i - 20));
        }

        for (int e = 0; e < 256; e++)
        {
            int q = e * 7 % 64;
            int h = e / 128;
            int g = e % 128 / 32;
            int l = e % 32;
            int ql = 64 * h + (g % 2 == 1 ? 32 : 0) + l;
            b[ql] |= (byte)((q & 0xF) << (g >= 2 ? 4 : 0));
            b[128 + 32 * h + l] |= (byte)((q >> 4) << (2 * g));
        }

        var y = Run<BlockQ6_K>(b);
        for (int e = 0; e < 256; e++)
        {
            int q = e * 7 % 64;
            int scale = 3 * (e / 16) - 20;
            Assert.Equal(0.5f * scale * (q - 32), y[e]);
        }
    }

    [Fact]
    public void Q2_KUsesFourBitScaleAndMinPerSixteenValues()
    {
        var b = new byte[84];
        Half(b, 80, 0.5);
        Half(b, 82, 0.25);
        for (int i = 0; i < 16; i++)
        {
            b[i] = (byte)((i % 16) | (((15 - i) % 16) << 4));
        }

        for (int e = 0; e < 256; e++)
        {
            int q = (e * 5 + e / 16) % 4;
            int half = e / 128;
            int g = e % 128 / 32;
            int part = e % 32 / 16;
            int l = e % 16;
            b[16 + 32 * half + 16 * part + l] |= (byte)(q << (2 * g));
        }

        var y = Run<BlockQ2_K>(b);
        for (int e = 0; e < 256; e++)
        {
            int q = (e * 5 + e / 16) % 4;
            int s = e / 16;
            Assert.Equal(0.5f * (s % 16) * q - 0.25f * ((15 - s) % 16), y[e]);
        }
    }

    [Fact]
    public void Q3_KCombinesTwoLowBitsAndTheHmaskBitWithBiasedSixBitScales()
    {
        int[] ls = [0, 1, 31, 32, 33, 63, 10, 50, 7, 40, 20, 60, 2, 45, 32, 17];
        var b = new byte[110];
        Half(b, 108, 0.5);
        var scales = new byte[12];
        for (int j = 0; j < 16; j++)
        {
            int l = ls[j];
            if (j < 8)
            {
                scales[j] = (byte)(l & 0xF);
            }
            else
            {
                scales[j - 8] |= (byte)((l & 0xF) << 4);
            }

            scales[j % 4 + 8] |= (byte)((l >> 4) << (2 * (j / 4)));
        }

        scales.CopyTo(b, 96);
        for (int e = 0; e < 256; e++)
        {
            int q = (e * 3 + e / 7) % 8; // the 3-bit quant, value q − 4
            int half = e / 128;
            int g = e % 128 / 32;
            int part = e % 32 / 16;
            int l = e % 16;
            b[32 + 32 * half + 16 * part + l] |= (byte)((q & 3) << (2 * g));
            if (q >= 4)
            {
                b[16 * part + l] |= (byte)(1 << (4 * half + g));
            }
        }

        var y = Run<BlockQ3_K>(b);
        for (int e = 0; e < 256; e++)
        {
            int q = (e * 3 + e / 7) % 8;
            Assert.Equal(0.5f * (ls[e / 16] - 32) * (q - 4), y[e]);
        }
    }

    [Fact]
    public void MultipleBlocksAndBadLengths()
    {
        var b = new byte[36];
        Half(b, 0, 1.0);
        Half(b, 18, 2.0);
        b[2] = 0x09; // value 0 = 1, value 16 = -8
        b[20] = 0xF0; // value 0 = -8, value 16 = 7, scaled by 2
        var y = new float[64];
        BlockQ4_0.Dequantize(b, y);
        Assert.Equal(1f, y[0]);
        Assert.Equal(-8f, y[16]);
        Assert.Equal(-16f, y[32]);
        Assert.Equal(14f, y[48]);
        Assert.Throws<ArgumentException>(() => BlockQ4_0.Dequantize(b.AsSpan(0, 35), new float[64]));
        Assert.Throws<ArgumentException>(() => BlockQ4_0.Dequantize(b, new float[63]));
        Assert.Throws<NotSupportedException>(() => GgmlTypeTraits.Dequantize(GgmlType.IQ2_XXS, new byte[66], new float[256]));
    }
}
