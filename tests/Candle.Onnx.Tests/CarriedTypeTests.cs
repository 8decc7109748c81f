using Candle.Compiler;
using Candle.Compiler.Backends.Reference;
using Candle.Onnx.Proto;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Google.Protobuf;
using static Candle.Onnx.Tests.TestModels;

namespace Candle.Onnx.Tests;

/// <summary>
/// Element types the IR carries in a wider dtype (int16/uint16 in int32, uint32 in int64, float8 in float32, int4 in
/// int8): tensors decoded from their stored bits, arithmetic wrapped back into the type, Cast rounding to float8 per the
/// spec's saturation rules. Expected values are worked out by hand from the formats.
/// </summary>
public sealed class CarriedTypeTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-onnx-carried-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    /// <summary>Runs one node through the interpreter and the CPU plan, which must agree bit for bit.</summary>
    private HostTensor Run(string op, int inType, int outType, HostTensor[] inputs, params AttributeProto[] attrs)
    {
        var g = new GraphProto { Name = "g" };
        var names = inputs.Select((_, i) => $"x{i}").ToArray();
        for (int i = 0; i < inputs.Length; i++) g.Input.Add(Value(names[i], inType, [.. inputs[i].Shape.Cast<object>()]));
        g.Output.Add(Value("y", outType, [.. inputs[0].Shape.Cast<object>()]));
        g.Node.Add(Node(op, names, ["y"], attrs));
        var graph = OnnxModel.Load(Save(_tmp, op + ".onnx", g, 21)).Graph;
        var reference = ReferenceInterpreter.Run(graph, inputs)[0];
        using var plan = CandleCompiler.Compile(graph);
        var cpu = plan.Run(inputs)[0];
        Assert.Equal(reference.DType, cpu.DType);
        Assert.Equal(reference.ToFloat64(), cpu.ToFloat64());
        return reference;
    }

    [Fact]
    public void Int16_addition_wraps_as_two_complement()
    {
        var a = HostTensor.FromArray(new[] { 32767, -32768, 100 }, [3]);
        var b = HostTensor.FromArray(new[] { 1, -1, 200 }, [3]);
        var y = Run("Add", 5, 5, [a, b]);
        Assert.Equal(DType.I32, y.DType);
        Assert.Equal([-32768L, 32767, 300], y.ToInt64());
    }

    [Fact]
    public void Uint16_subtraction_and_uint32_addition_wrap_modulo_their_width()
    {
        Assert.Equal([65535L, 1], Run("Sub", 4, 4, [HostTensor.FromArray(new[] { 0, 3 }, [2]), HostTensor.FromArray(new[] { 1, 2 }, [2])]).ToInt64());
        Assert.Equal([0L, 4294967295], Run("Add", 12, 12, [HostTensor.FromArray(new[] { 4294967295L, 4294967290 }, [2]), HostTensor.FromArray(new[] { 1L, 5 }, [2])]).ToInt64());
    }

    [Fact]
    public void Cast_to_float8e4m3fn_rounds_half_to_even_and_saturates()
    {
        // 0.3 = 1.2·2^-2, quantum 2^-5: 9.6 quanta → 10 → 0.3125. 464 lies halfway between 448 (14·32) and 480: even → 448,
        // the largest finite value. 500 and −∞ saturate to ±448. 2^-9 is the smallest subnormal; 2^-11 is a quarter of
        // it (→ 0) and 3·2^-11 three quarters (→ 2^-9). NaN stays NaN.
        float[] x = [0.3f, 464, 500, float.NegativeInfinity, MathF.Pow(2, -9), MathF.Pow(2, -11), 3 * MathF.Pow(2, -11), float.NaN, -1];
        var y = Run("Cast", 1, 17, [HostTensor.FromArray(x, [x.Length])], Int("to", 17)).ToFloat32();
        Assert.Equal([0.3125f, 448, 448, -448, MathF.Pow(2, -9), 0, MathF.Pow(2, -9), float.NaN, -1], y);
    }

    [Fact]
    public void Cast_without_saturation_overflows_to_nan_or_infinity_as_each_format_defines()
    {
        float[] x = [500, float.PositiveInfinity, 1.1f];
        // E4M3FN has no infinity: overflow is NaN; 1.1 → quantum 1/8 → 1.125 (8.8 quanta → 9).
        Assert.Equal([float.NaN, float.NaN, 1.125f], Run("Cast", 1, 17, [HostTensor.FromArray(x, [3])], Int("to", 17), Int("saturate", 0)).ToFloat32());
        // E5M2 (max 57344): 70000 overflows to +∞; 500 = 1.953·2^8, quantum 64: 7.8 quanta → 8 → 512; 1.1 → quantum 1/4 → 1.
        float[] z = [70000, 500, 1.1f];
        Assert.Equal([float.PositiveInfinity, 512, 1], Run("Cast", 1, 19, [HostTensor.FromArray(z, [3])], Int("to", 19), Int("saturate", 0)).ToFloat32());
    }

    [Fact]
    public void Cast_to_float8e8m0_rounds_to_a_power_of_two_by_round_mode()
    {
        // 0.124 lies between 2^-4 and 2^-3 (nearer 2^-3: 0.124 ≥ 1.5·2^-4); 3 = 1.5·2 is the tie of 2 and 4 (nearest: up);
        // 0.25 is exact. 0 and 2^-130 are below 2^-127, 2^130 and ∞ above 2^127: saturated to the ends, else NaN.
        float[] x = [0.124f, 3, 0.25f, 5, 0, MathF.Pow(2, -130), MathF.Pow(2, 127) * 1.5f, float.PositiveInfinity, float.NaN];
        var input = HostTensor.FromArray(x, [x.Length]);
        AttributeProto Mode(string m) => new() { Name = "round_mode", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(m) };
        float min = MathF.Pow(2, -127), max = MathF.Pow(2, 127);
        Assert.Equal([0.125f, 4, 0.25f, 8, min, min, max, max, float.NaN], Run("Cast", 1, 24, [input], Int("to", 24)).ToFloat32());
        Assert.Equal([0.0625f, 2, 0.25f, 4, min, min, max, max, float.NaN], Run("Cast", 1, 24, [input], Int("to", 24), Mode("down")).ToFloat32());
        Assert.Equal([0.125f, 4, 0.25f, 4, min, min, max, max, float.NaN], Run("Cast", 1, 24, [input], Int("to", 24), Mode("nearest")).ToFloat32());
        Assert.Equal([0.125f, 4, 0.25f, 4, float.NaN, float.NaN, float.NaN, float.NaN, float.NaN], Run("Cast", 1, 24, [input], Int("to", 24), Mode("nearest"), Int("saturate", 0)).ToFloat32());
    }

    [Fact]
    public void Cast_from_float_to_int4_truncates_and_wraps()
    {
        // A C cast: −9 → 7 (−9 + 16), 9.7 → 9 → −7, −2.5 → −2.
        Assert.Equal([7L, -7, -2], Run("Cast", 1, 22, [HostTensor.FromArray(new float[] { -9, 9.7f, -2.5f }, [3])], Int("to", 22)).ToInt64());
    }

    [Theory]
    [InlineData(17, new byte[] { 0x7E, 0x01, 0xB8, 0x7F }, new float[] { 448, 0.001953125f, -1, float.NaN })]
    [InlineData(18, new byte[] { 0x7F, 0x80, 0x40 }, new float[] { 240, float.NaN, 1 })]
    [InlineData(19, new byte[] { 0x7C, 0x3C, 0x7B, 0xFC }, new float[] { float.PositiveInfinity, 1, 57344, float.NegativeInfinity })]
    [InlineData(20, new byte[] { 0x80, 0x40, 0x7F }, new float[] { float.NaN, 1, 57344 })]
    public void Float8_tensors_are_decoded_from_their_bits(int code, byte[] bits, float[] expected)
    {
        var t = new TensorProto { Name = "t", DataType = code, RawData = ByteString.CopyFrom(bits) };
        t.Dims.Add(bits.Length);
        string path = Path.Combine(_tmp, "t.pb");
        File.WriteAllBytes(path, t.ToByteArray());
        var host = OnnxTensorFile.Read(path);
        Assert.Equal(DType.F32, host.DType);
        Assert.Equal(expected, host.ToFloat32());
    }

    [Theory]
    [InlineData(22, new long[] { -1, -7, 7 })]
    [InlineData(21, new long[] { 15, 9, 7 })]
    public void Packed_4_bit_tensors_are_read_low_nibble_first(int code, long[] expected)
    {
        var t = new TensorProto { Name = "t", DataType = code, RawData = ByteString.CopyFrom(0x9F, 0x07) };
        t.Dims.Add(3);
        string path = Path.Combine(_tmp, "t4.pb");
        File.WriteAllBytes(path, t.ToByteArray());
        Assert.Equal(expected, OnnxTensorFile.Read(path).ToInt64());
    }

    [Fact]
    public void A_packed_tensor_with_too_few_bytes_is_a_format_error_naming_it()
    {
        var t = new TensorProto { Name = "short", DataType = 22, RawData = ByteString.CopyFrom(0x9F) };
        t.Dims.Add(3);
        string path = Path.Combine(_tmp, "short.pb");
        File.WriteAllBytes(path, t.ToByteArray());
        var e = Assert.Throws<OnnxFormatException>(() => OnnxTensorFile.Read(path));
        Assert.Contains("'short'", e.Message, StringComparison.Ordinal);
        Assert.Contains("INT4 needs 2 bytes of raw_data, found 1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Outputs_convert_back_to_their_declared_type_at_the_output()
    {
        // uint16 65535 is 0xFFFF, int16 −2 is 0xFFFE, uint32 4294967295 is four 0xFF (little-endian).
        Assert.Equal([0xFF, 0xFF, 0x01, 0x00], OnnxDeclaredOutputs.Encode(HostTensor.FromArray(new[] { 65535, 1 }, [2]), "UINT16"));
        Assert.Equal([0xFE, 0xFF], OnnxDeclaredOutputs.Encode(HostTensor.FromArray(new[] { -2 }, [1]), "INT16"));
        Assert.Equal([0xFF, 0xFF, 0xFF, 0xFF], OnnxDeclaredOutputs.Encode(HostTensor.FromArray(new[] { 4294967295L }, [1]), "UINT32"));

        // FLOAT8E4M3FN: 448 is S.1111.110 = 0x7E, −1 is S=1, exponent 7 (bias 7) = 0xB8, NaN S.1111.111 = 0x7F;
        // FLOAT8E5M2: 1 is 0.01111.00 = 0x3C, −∞ is 1.11111.00 = 0xFC.
        Assert.Equal([0x7E, 0xB8, 0x7F], OnnxDeclaredOutputs.Encode(HostTensor.FromArray(new[] { 448f, -1, float.NaN }, [3]), "FLOAT8E4M3FN"));
        Assert.Equal([0x3C, 0xFC], OnnxDeclaredOutputs.Encode(HostTensor.FromArray(new[] { 1f, float.NegativeInfinity }, [2]), "FLOAT8E5M2"));

        // int4 −1, −7, 7 pack low nibble first: 0xF | 0x9 << 4 = 0x9F, then 0x07.
        Assert.Equal([0x9F, 0x07], OnnxDeclaredOutputs.Encode(new HostTensor(DType.I8, [3], new byte[] { 0xFF, 0xF9, 0x07 }), "INT4"));

        // A value outside the type (0.3 has no FLOAT8E4M3FN code; 70000 is no uint16) is refused, naming both.
        var e = Assert.Throws<InvalidOperationException>(() => OnnxDeclaredOutputs.Encode(HostTensor.FromArray(new[] { 0.3f }, [1]), "FLOAT8E4M3FN"));
        Assert.Contains("FLOAT8E4M3FN", e.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => OnnxDeclaredOutputs.Encode(HostTensor.FromArray(new[] { 70000 }, [1]), "UINT16"));
    }

    [Fact]
    public void A_uint16_output_is_written_to_safetensors_as_U16()
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("a", 4, 2));
        g.Input.Add(Value("b", 4, 2));
        g.Output.Add(Value("y", 4, 2));
        g.Output.Add(Value("z", 1, 2));
        g.Node.Add(Node("Sub", ["a", "b"], ["y"]));
        g.Node.Add(Node("Cast", ["y"], ["z"], Int("to", 1)));
        string model = Save(_tmp, "u16.onnx", g, 21);
        var inputs = new Dictionary<string, HostTensor>
        {
            ["a"] = HostTensor.FromArray(new[] { 0, 3 }, [2]),
            ["b"] = HostTensor.FromArray(new[] { 1, 2 }, [2]),
        };
        var outputs = OnnxEvaluation.Run(model, inputs, Compiler.Backends.BackendRegistry.Get("cpu"));
        var entries = OnnxDeclaredOutputs.ForSafeTensors(OnnxModelInfo.Read(model), outputs);
        Assert.Equal("U16", entries[0].DType);
        Assert.Equal([0xFF, 0xFF, 0x01, 0x00], entries[0].Data.ToArray());
        Assert.Equal("F32", entries[1].DType);
        Assert.Equal([65535f, 1f], outputs[1].Value.ToFloat32());

        string path = Path.Combine(_tmp, "out.safetensors");
        Runtime.Weights.SafeTensors.SafeTensorsWriter.WriteEntries(path, entries);
        byte[] file = File.ReadAllBytes(path);
        string header = System.Text.Encoding.UTF8.GetString(file, 8, (int)BitConverter.ToUInt64(file, 0));
        Assert.Contains("\"y\":{\"dtype\":\"U16\",\"shape\":[2]", header, StringComparison.Ordinal);
        Assert.Equal([0xFF, 0xFF, 0x01, 0x00], file[^12..^8]);
    }
}
