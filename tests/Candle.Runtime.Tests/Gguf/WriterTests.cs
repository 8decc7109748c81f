using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.Gguf;
using Candle.Tests;

namespace Candle.Runtime.Tests.Gguf;

public sealed class WriterTests : IDisposable
{
    private readonly GgufTempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static float[] Ramp(int n) => Enumerable.Range(0, n).Select(i => MathF.Sin(i * 0.37f) * 3).ToArray();

    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    [InlineData(1)]
    public void MetadataOfEveryTypeAndTensorsRoundTrip(int alignment)
    {
        var w = new GgufWriter { Alignment = alignment }
            .Add("general.architecture", "llama")
            .Add("u8", GgufValue.From((byte)200))
            .Add("i8", GgufValue.From((sbyte)-100))
            .Add("u16", GgufValue.From((ushort)60000))
            .Add("i16", GgufValue.From((short)-30000))
            .Add("u32", 4_000_000_000u)
            .Add("i32", GgufValue.From(-2_000_000_000))
            .Add("f32", 1.5f)
            .Add("yes", true)
            .Add("name", "tiny ünïcode")
            .Add("u64", GgufValue.From(ulong.MaxValue))
            .Add("i64", GgufValue.From(long.MinValue))
            .Add("f64", GgufValue.From(Math.PI))
            .Add("tokens", GgufValue.From(GgufArray.Of("a", "", "ß")))
            .Add("scores", GgufValue.From(GgufArray.Of(0.5f, -1f)))
            .Add("flags", GgufValue.From(GgufArray.Of(true, false)))
            .Add("empty", GgufValue.From(GgufArray.Of<int>()))
            .Add("nested", GgufValue.From(GgufArray.Of(GgufArray.Of(1L, 2L), GgufArray.Of<long>(), GgufArray.Of(GgufArray.Of("deep")))));
        var f32 = HostTensor.FromArray(Ramp(64), 2, 32);
        var f16 = HostTensor.FromArray(Ramp(96), 3, 32);
        var q8 = HostTensor.FromArray(Ramp(128), 2, 2, 32);
        var q4 = HostTensor.FromArray(Ramp(64), 64);
        var ints = HostTensor.FromArray(new int[] { 1, -2, 3 }, 3);
        w.AddTensor("f32", f32, GgmlType.F32).AddTensor("f16", f16, GgmlType.F16).AddTensor("q8", q8, GgmlType.Q8_0)
            .AddTensor("q4", q4, GgmlType.Q4_0).AddTensor("ints", ints, GgmlType.I32)
            .AddTensor("empty", GgmlType.F32, [0, 4], ReadOnlyMemory<byte>.Empty);
        string path = _dir.File("rt.gguf");
        w.Write(path);
        Assert.Equal(w.ToArray(), File.ReadAllBytes(path));

        using var f = GgufFile.Open(path);
        Assert.Equal(3u, f.Version);
        Assert.Equal(alignment, f.Alignment);
        Assert.Equal(0, f.DataOffset % alignment);
        var m = f.Metadata;
        Assert.Equal("llama", f.Architecture);
        Assert.Equal((byte)200, m["u8"].As<byte>());
        Assert.Equal((sbyte)-100, m["i8"].As<sbyte>());
        Assert.Equal((ushort)60000, m["u16"].As<ushort>());
        Assert.Equal((short)-30000, m["i16"].As<short>());
        Assert.Equal(4_000_000_000u, m.GetUInt32("u32"));
        Assert.Equal(-2_000_000_000, m.GetInt32("i32"));
        Assert.Equal(1.5f, m.GetFloat32("f32"));
        Assert.True(m.GetBool("yes"));
        Assert.Equal("tiny ünïcode", m.GetString("name"));
        Assert.Equal(ulong.MaxValue, m.GetUInt64("u64"));
        Assert.Equal(long.MinValue, m.GetInt64("i64"));
        Assert.Equal(Math.PI, m.GetFloat64("f64"));
        Assert.Equal(["a", "", "ß"], m.GetStringArray("tokens"));
        Assert.Equal([0.5f, -1f], m.GetFloat32Array("scores").ToArray());
        Assert.Equal([true, false], m.GetArray("flags").AsSpan<bool>().ToArray());
        Assert.Equal(0, m.GetArray("empty").Count);
        Assert.Equal(GgufValueType.Int32, m.GetArray("empty").ElementType);
        var nested = m.GetArray("nested");
        Assert.Equal(GgufValueType.Array, nested.ElementType);
        Assert.Equal([1L, 2L], nested[0].As<GgufArray>().AsSpan<long>().ToArray());
        Assert.Equal(0, nested[1].As<GgufArray>().Count);
        Assert.Equal("deep", nested[2].As<GgufArray>()[0].As<GgufArray>().AsStrings()[0]);
        Assert.Equal(-2_000_000_000L, m.GetInteger("i32"));
        Assert.Equal(m.Keys, m.Select(p => p.Key));
        Assert.Equal(alignment == 32 ? 18 : 19, m.Count);

        Assert.Equal(f32.ToFloat32(), f.Dequantize("f32").ToFloat32());
        Assert.Equal([2, 32], f.Dequantize("f32").Shape);
        Assert.Equal([32L, 2L], f.GetInfo("f32").GgmlDims);
        Assert.Equal(f16.Cast(DType.F16).ToFloat32(), f.Dequantize("f16").ToFloat32());
        Assert.Equal(DType.F16, f.GetTensor("f16").DType);
        Assert.Equal([2, 2, 32], f.Dequantize("q8").Shape);
        Assert.Equal(GgmlType.Q8_0, f.GetInfo("q8").Type);
        var q8Expected = new float[128];
        var q8Bytes = new byte[136];
        BlockQ8_0.Quantize(q8.ToFloat32(), q8Bytes);
        BlockQ8_0.Dequantize(q8Bytes, q8Expected);
        Assert.Equal(q8Bytes, f.GetRawData("q8").ToArray());
        Assert.Equal(q8Expected, f.Dequantize("q8").ToFloat32());
        Assert.Equal(36, f.GetRawData("q4").Length);
        Assert.Equal([1L, -2L, 3L], f.GetTensor("ints").ToInt64());
        Assert.Equal([1f, -2f, 3f], f.Dequantize("ints").ToFloat32());
        Assert.Equal([4, 0], f.Dequantize("empty").Shape);
        foreach (var t in f.Tensors)
        {
            Assert.Equal(0, t.Offset % alignment);
        }
    }

    [Fact]
    public void RewritingAFixtureReproducesItsTensorsAndMetadata()
    {
        using var src = GgufFile.Open(Path.Combine(Fixtures.Dir, "gguf", "llama-q4_k_m.gguf"));
        var w = new GgufWriter { Alignment = src.Alignment, Version = src.Version };
        foreach (var (key, value) in src.Metadata)
        {
            w.Add(key, value);
        }

        foreach (var t in src.Tensors)
        {
            w.AddTensor(t.Name, t.Type, t.GgmlDims.ToArray(), src.GetRawData(t.Name));
        }

        var bytes = w.ToArray();
        Assert.Equal(File.ReadAllBytes(src.Path), bytes);
    }

    [Fact]
    public void WriterRejectsBadInput()
    {
        var w = new GgufWriter();
        w.Add("k", 1u);
        Assert.Throws<ArgumentException>(() => w.Add("k", 2u));
        Assert.Throws<ArgumentException>(() => w.AddTensor("t", GgmlType.Q4_0, [16], new byte[9]));
        Assert.Throws<ArgumentException>(() => w.AddTensor("t", GgmlType.F32, [4], new byte[15]));
        Assert.Throws<ArgumentException>(() => w.AddTensor("t", HostTensor.FromArray(new float[16], 16), GgmlType.Q8_0));
        Assert.Throws<ArgumentException>(() => w.AddTensor("t", HostTensor.FromArray(new float[32], 32), GgmlType.Q4_K));
        Assert.Throws<ArgumentOutOfRangeException>(() => w.Alignment = 48);
        w.AddTensor("t", GgmlType.F32, [4], new byte[16]);
        Assert.Throws<ArgumentException>(() => w.AddTensor("t", GgmlType.F32, [4], new byte[16]));
        var conflicting = new GgufWriter { Alignment = 64 }.Add("general.alignment", 32u);
        Assert.Throws<InvalidOperationException>(() => conflicting.ToArray());
    }

    [Fact]
    public void VersionTwoFilesAreRead()
    {
        string path = _dir.File("v2.gguf");
        new GgufWriter { Version = 2 }.Add("general.architecture", "llama").AddTensor("x", HostTensor.FromArray(new float[] { 1, 2 }, 2), GgmlType.F32).Write(path);
        using var f = GgufFile.Open(path);
        Assert.Equal(2u, f.Version);
        Assert.Equal([1f, 2f], f.Dequantize("x").ToFloat32());
    }
}
