using Candle.Compiler;
using Candle.Compiler.Backends.Reference;
using Candle.Onnx.Proto;
using Candle.Runtime.Tensors;
using static Candle.Onnx.Tests.TestModels;

namespace Candle.Onnx.Tests;

/// <summary>
/// BitCast against .NET's own reinterpretation (BitConverter) of zeros of both signs, subnormals, the extremes and
/// infinities, on the interpreter and the CPU plan.
/// </summary>
public sealed class BitCastOpTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-onnx-bitcast-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    /// <summary>
    /// Runs BitCast(x, to) on both devices, checks they agree bit for bit (unless <paramref name="sameBits"/> is false:
    /// NaNs may differ in sign), and returns the interpreter's result.
    /// </summary>
    private HostTensor Run(HostTensor x, int fromCode, int toCode, bool sameBits = true)
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", fromCode, x.Shape[0]));
        g.Output.Add(Value("y", toCode, x.Shape[0]));
        g.Node.Add(Node("BitCast", ["x"], ["y"], Int("to", toCode)));
        var graph = OnnxModel.Load(Save(_tmp, $"bitcast{fromCode}-{toCode}.onnx", g, 26)).Graph;
        var reference = ReferenceInterpreter.Run(graph, [x])[0];
        using var plan = CandleCompiler.Compile(graph);
        var compiled = plan.Run([x])[0];
        Assert.Equal(reference.DType, compiled.DType);
        if (sameBits) Assert.Equal(reference.Data.ToArray(), compiled.Data.ToArray());
        else Assert.Equal(reference.ToFloat64().Select(double.IsNaN), compiled.ToFloat64().Select(double.IsNaN));
        return reference;
    }

    private static readonly float[] Singles =
    [
        0f, -0f, 1f, -2.5f, 0.1f, MathF.PI, float.MaxValue, -float.MaxValue, float.Epsilon, -float.Epsilon,
        1.17549435e-38f, 1.1754942e-38f, 3e-39f, 16777215f, float.PositiveInfinity, float.NegativeInfinity,
    ];

    private static readonly double[] Doubles =
    [
        0.0, -0.0, 1.0, -2.5, 0.1, Math.PI, double.MaxValue, -double.MaxValue, double.Epsilon, -double.Epsilon,
        2.2250738585072014e-308, 2.225073858507201e-308, 1e-310, 9007199254740991.0, double.PositiveInfinity, double.NegativeInfinity,
    ];

    [Fact]
    public void Float32_bits_match_BitConverter_both_ways()
    {
        int[] bits = [.. Singles.Select(BitConverter.SingleToInt32Bits)];
        Assert.Equal(bits.Select(b => (long)b), Run(HostTensor.FromArray(Singles, Singles.Length), 1, 6).ToInt64());
        var back = Run(HostTensor.FromArray(bits, bits.Length), 6, 1).ToFloat32();
        Assert.Equal(bits, back.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void Float64_bits_match_BitConverter_both_ways()
    {
        long[] bits = [.. Doubles.Select(BitConverter.DoubleToInt64Bits)];
        Assert.Equal(bits, Run(HostTensor.FromArray(Doubles, Doubles.Length), 11, 7).ToInt64());
        var back = Run(HostTensor.FromArray(bits, bits.Length), 7, 11).ToFloat64();
        Assert.Equal(bits, back.Select(BitConverter.DoubleToInt64Bits));
    }

    [Fact]
    public void Float16_to_uint16_and_back()
    {
        Half[] halves = [(Half)0, -(Half)0, (Half)1, (Half)(-2.5), Half.MaxValue, Half.Epsilon, (Half)6.1e-5, Half.PositiveInfinity, Half.NegativeInfinity];
        ushort[] bits = [.. halves.Select(BitConverter.HalfToUInt16Bits)];
        // UINT16 is carried in int32.
        Assert.Equal(bits.Select(b => (long)b), Run(HostTensor.FromArray(halves, halves.Length), 10, 4).ToInt64());
        var back = Run(HostTensor.FromArray([.. bits.Select(b => (int)b)], bits.Length), 4, 10);
        Assert.Equal(bits, back.Data.ToArray().Chunk(2).Select(p => BitConverter.ToUInt16(p)));
    }

    [Fact]
    public void A_NaN_gives_the_quiet_NaN_pattern()
    {
        Assert.Equal([0x7FC00000L], Run(HostTensor.FromArray([float.NaN], 1), 1, 6).ToInt64());
        Assert.True(float.IsNaN(Run(HostTensor.FromArray([unchecked((int)0xFFC00001)], 1), 6, 1, sameBits: false).ToFloat32()[0]));
    }

    [Fact]
    public void Signed_and_unsigned_integers_wrap()
    {
        Assert.Equal([255L, 128, 127, 0], Run(HostTensor.FromArray(new sbyte[] { -1, -128, 127, 0 }, 4), 3, 2).ToInt64());
        Assert.Equal([-1L, -128, 127, 0], Run(HostTensor.FromArray(new byte[] { 255, 128, 127, 0 }, 4), 2, 3).ToInt64());
        // UINT32 is carried in int64.
        Assert.Equal([-1L, int.MinValue, int.MaxValue], Run(HostTensor.FromArray([4294967295L, 2147483648L, 2147483647L], 3), 12, 6).ToInt64());
    }

    [Fact]
    public void Different_widths_are_an_import_error_naming_both_types()
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", 1, 2));
        g.Output.Add(Value("y", 7, 2));
        g.Node.Add(Node("BitCast", ["x"], ["y"], Int("to", 7)));
        var e = Assert.Throws<OnnxImportException>(() => OnnxModel.Load(Save(_tmp, "widths.onnx", g, 26)));
        Assert.Contains("BitCast", e.Message, StringComparison.Ordinal);
        Assert.Contains("FLOAT (32 bits) as INT64 (64 bits)", e.Message, StringComparison.Ordinal);
    }
}
