using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.Gguf;

namespace Candle.Runtime.Tests.Gguf;

/// <summary>
/// IQ4_NL and IQ4_XS against blocks built by hand from ggml's <c>block_iq4_nl</c>/<c>block_iq4_xs</c> definitions and
/// its <c>kvalues_iq4nl</c> table (copied here from ggml-common.h, not from the code under test).
/// </summary>
public sealed class NonLinearQuantTests
{
    private static readonly int[] Kvalues = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

    [Fact]
    public void LayoutsAndTraitsMatchGgml()
    {
        Assert.Equal(18, Unsafe.SizeOf<BlockIQ4_NL>());
        Assert.Equal(136, Unsafe.SizeOf<BlockIQ4_XS>());
        Assert.Equal((32, 18), (GgmlTypeTraits.BlockSize(GgmlType.IQ4_NL), GgmlTypeTraits.BlockBytes(GgmlType.IQ4_NL)));
        Assert.Equal((256, 136), (GgmlTypeTraits.BlockSize(GgmlType.IQ4_XS), GgmlTypeTraits.BlockBytes(GgmlType.IQ4_XS)));
        Assert.True(GgmlTypeTraits.CanDequantize(GgmlType.IQ4_NL));
        Assert.True(GgmlTypeTraits.CanDequantize(GgmlType.IQ4_XS));
        Assert.True(GgmlTypeTraits.CanQuantize(GgmlType.IQ4_NL));
        Assert.Equal("iq4_nl", GgmlTypeTraits.Name(GgmlType.IQ4_NL));
        Assert.Equal(20, (int)GgmlType.IQ4_NL);
        Assert.Equal(23, (int)GgmlType.IQ4_XS);
    }

    [Fact]
    public void IQ4_NLMapsEachNibbleThroughTheTable()
    {
        var b = new byte[18];
        BinaryPrimitives.WriteHalfLittleEndian(b, (Half)0.5);
        for (int j = 0; j < 16; j++)
        {
            b[2 + j] = (byte)(j | ((15 - j) << 4));
        }

        var y = new float[32];
        BlockIQ4_NL.Dequantize(b, y);
        var viaTraits = new float[32];
        GgmlTypeTraits.Dequantize(GgmlType.IQ4_NL, b, viaTraits);
        Assert.Equal(y, viaTraits);
        for (int j = 0; j < 16; j++)
        {
            Assert.Equal(Kvalues[j] * 0.5f, y[j]);
            Assert.Equal(Kvalues[15 - j] * 0.5f, y[j + 16]);
        }
    }

    [Fact]
    public void IQ4_XSCombinesFourLowAndTwoHighScaleBitsBiasedBy32()
    {
        int[] ls = [0, 63, 32, 31, 47, 1, 16, 40];
        var b = new byte[136];
        BinaryPrimitives.WriteHalfLittleEndian(b, (Half)0.25);
        int high = 0;
        for (int ib = 0; ib < 8; ib++)
        {
            b[4 + ib / 2] |= (byte)((ls[ib] & 0xF) << (4 * (ib % 2)));
            high |= (ls[ib] >> 4) << (2 * ib);
        }

        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2), (ushort)high);
        for (int i = 0; i < 128; i++)
        {
            b[8 + i] = (byte)((i * 7) & 0xFF);
        }

        var y = new float[256];
        GgmlTypeTraits.Dequantize(GgmlType.IQ4_XS, b, y);
        for (int ib = 0; ib < 8; ib++)
        {
            for (int j = 0; j < 16; j++)
            {
                byte q = b[8 + 16 * ib + j];
                float dl = 0.25f * (ls[ib] - 32);
                Assert.Equal(dl * Kvalues[q & 0xF], y[32 * ib + j]);
                Assert.Equal(dl * Kvalues[q >> 4], y[32 * ib + 16 + j]);
            }
        }
    }

    [Fact]
    public void IQ4_NLQuantizerPicksTheTableEntriesOfAnExactlyRepresentableBlock()
    {
        // Values that are exactly d·kvalue for d = 0.5: the best scale reproduces them, so the nibbles are known.
        var x = new float[32];
        for (int j = 0; j < 32; j++)
        {
            x[j] = 0.5f * Kvalues[(j * 5 + 3) % 16];
        }

        var q = new byte[18];
        GgmlTypeTraits.Quantize(GgmlType.IQ4_NL, x, q);
        Assert.Equal((Half)0.5, BinaryPrimitives.ReadHalfLittleEndian(q));
        for (int j = 0; j < 16; j++)
        {
            Assert.Equal((j * 5 + 3) % 16, q[2 + j] & 0xF);
            Assert.Equal(((j + 16) * 5 + 3) % 16, q[2 + j] >> 4);
        }
    }

    [Fact]
    public void IQ4_XSQuantizerKeepsSubBlockScaleRatiosOfAnExactBlock()
    {
        // Sub-block ib holds (ls_ib − 32)·d·kvalues: the 6-bit scales and the nibbles are recovered exactly.
        int[] ls = [0, 8, 16, 24, 40, 48, 56, 63];
        var x = new float[256];
        for (int ib = 0; ib < 8; ib++)
        {
            for (int j = 0; j < 32; j++)
            {
                x[32 * ib + j] = (ls[ib] - 32) * 0.125f * Kvalues[(j + ib) % 16];
            }
        }

        var y = new float[256];
        var q = new byte[136];
        GgmlTypeTraits.Quantize(GgmlType.IQ4_XS, x, q);
        GgmlTypeTraits.Dequantize(GgmlType.IQ4_XS, q, y);
        for (int i = 0; i < 256; i++)
        {
            Assert.True(MathF.Abs(x[i] - y[i]) <= 1e-4f * MathF.Abs(x[i]) + 1e-6f, $"value {i}: {x[i]} came back as {y[i]}");
        }
    }

    [Fact]
    public void FilesWithIQ4TensorsLoadDequantized()
    {
        using var dir = new GgufTempDir();
        var values = Enumerable.Range(0, 2 * 256).Select(i => MathF.Sin(i * 0.31f)).ToArray();
        var tensor = new HostTensor(DType.F32, [2, 256], System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
        string path = Path.Combine(dir.Path, "iq4.gguf");
        new GgufWriter().Add("general.architecture", "llama")
            .AddTensor("a", tensor, GgmlType.IQ4_NL)
            .AddTensor("b", tensor, GgmlType.IQ4_XS)
            .Write(path);
        using var f = GgufFile.Open(path);
        foreach (var (name, type) in new[] { ("a", GgmlType.IQ4_NL), ("b", GgmlType.IQ4_XS) })
        {
            Assert.Equal(type, f.Tensors.Single(t => t.Name == name).Type);
            var y = f.Dequantize(name).ToFloat32();
            Assert.Equal([2, 256], f.Dequantize(name).ShapeArray());
            for (int i = 0; i < values.Length; i++)
            {
                Assert.True(MathF.Abs(values[i] - y[i]) < 0.2f, $"{type} value {i}: {values[i]} came back as {y[i]}");
            }
        }
    }

    [Fact]
    public void BadLengthsNameTheType()
    {
        var e = Assert.Throws<ArgumentException>(() => BlockIQ4_XS.Dequantize(new byte[135], new float[256]));
        Assert.Contains("IQ4_XS", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => BlockIQ4_NL.Quantize(new float[31], new byte[18]));
    }
}
