using Candle.Compiler;
using Candle.Compiler.Backends.Reference;
using Candle.Onnx.Proto;
using Candle.Runtime.Tensors;
using Google.Protobuf;
using static Candle.Onnx.Tests.TestModels;

namespace Candle.Onnx.Tests;

/// <summary>QuantizeLinear and DequantizeLinear (per tensor and blocked) against values computed by hand from the ONNX spec.</summary>
public sealed class QuantizeOpTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-onnx-quant-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static TensorProto FloatTensor(string name, long[] dims, params float[] values)
    {
        var t = new TensorProto { Name = name, DataType = 1 };
        t.Dims.AddRange(dims);
        t.FloatData.AddRange(values);
        return t;
    }

    private static TensorProto ByteTensor(string name, long[] dims, params byte[] values)
    {
        var t = new TensorProto { Name = name, DataType = 2, RawData = ByteString.CopyFrom(values) };
        t.Dims.AddRange(dims);
        return t;
    }

    /// <summary>Runs one node over input x through the interpreter and the CPU plan, which must agree.</summary>
    private HostTensor Run(string op, HostTensor x, int inType, int outType, TensorProto[] inits, params AttributeProto[] attrs)
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", inType, [.. x.Shape.Cast<object>()]));
        g.Output.Add(Value("y", outType, [.. x.Shape.Cast<object>()]));
        g.Initializer.AddRange(inits);
        g.Node.Add(Node(op, ["x", .. inits.Select(i => i.Name)], ["y"], attrs));
        var graph = OnnxModel.Load(Save(_tmp, op + ".onnx", g, 21)).Graph;
        var reference = ReferenceInterpreter.Run(graph, [x])[0];
        using var plan = CandleCompiler.Compile(graph);
        var cpu = plan.Run([x])[0];
        Assert.Equal(reference.ToFloat32(), cpu.ToFloat32());
        return reference;
    }

    [Fact]
    public void QuantizeLinear_rounds_half_to_even_and_saturates()
    {
        // round(x / 2) + 10, clamped to [0, 255]: 5/2 = 2.5 rounds to 2, 7/2 = 3.5 to 4, −30/2 + 10 = −5 saturates to 0.
        var x = HostTensor.FromArray(new float[] { 5, 7, -30, 600, 0 }, [5]);
        var y = Run("QuantizeLinear", x, 1, 2, [FloatTensor("s", [], 2), ByteTensor("zp", [], 10)]);
        Assert.Equal(Candle.Runtime.DType.U8, y.DType);
        Assert.Equal([12f, 14f, 0f, 255f, 10f], y.ToFloat32());
    }

    [Fact]
    public void Blocked_QuantizeLinear_and_DequantizeLinear_use_one_scale_per_block()
    {
        // Blocks of 2 along axis 1: row 0 uses scales (1, 2) and zero points (0, 1), row 1 scales (0.5, 4) and (2, 3).
        var x = HostTensor.FromArray(new float[] { 0, 1, 2, 3, 4, 5, 6, 7 }, [2, 4]);
        TensorProto[] qparams = [FloatTensor("s", [2, 2], 1, 2, 0.5f, 4), ByteTensor("zp", [2, 2], 0, 1, 2, 3)];
        var q = Run("QuantizeLinear", x, 1, 2, qparams, Int("axis", 1), Int("block_size", 2));
        Assert.Equal([0f, 1f, 2f, 3f, 10f, 12f, 5f, 5f], q.ToFloat32());
        var back = Run("DequantizeLinear", q, 2, 1, qparams, Int("axis", 1), Int("block_size", 2));
        Assert.Equal([0f, 1f, 2f, 4f, 4f, 5f, 8f, 8f], back.ToFloat32());
    }

    [Fact]
    public void Quantizing_to_int16_and_int4_saturates_to_their_ranges()
    {
        // round(x / 1): int16 clamps to [−32768, 32767] (carried as int32), int4 to [−8, 7] (carried as int8).
        var x = HostTensor.FromArray(new float[] { 40000, -40000, 2.5f, -7.5f }, [4]);
        Assert.Equal([32767f, -32768f, 2f, -8f], Run("QuantizeLinear", x, 1, 5, [FloatTensor("s", [], 1)], Int("output_dtype", 5)).ToFloat32());
        Assert.Equal([7f, -8f, 2f, -8f], Run("QuantizeLinear", x, 1, 22, [FloatTensor("s", [], 1)], Int("output_dtype", 22)).ToFloat32());
    }
}
