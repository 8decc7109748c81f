using Candle.Compiler;
using Candle.Compiler.Backends.Reference;
using Candle.Onnx.Proto;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Onnx.Tests.TestModels;

namespace Candle.Onnx.Tests;

/// <summary>Bitwise ops (two's complement, computed by hand) and CenterCropPad, on the interpreter and the CPU plan.</summary>
public sealed class BitwiseAndCropOpTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-onnx-bits-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private HostTensor Run(string op, HostTensor[] inputs, TensorProto[] inits, params AttributeProto[] attrs)
    {
        var g = new GraphProto { Name = "g" };
        var names = new List<string>();
        for (int i = 0; i < inputs.Length; i++)
        {
            names.Add("x" + i);
            g.Input.Add(Value("x" + i, OnnxCode(inputs[i].DType), [.. inputs[i].Shape.Cast<object>()]));
        }

        g.Initializer.AddRange(inits);
        g.Output.Add(Value("y", OnnxCode(inputs[0].DType), "n"));
        g.Node.Add(Node(op, [.. names, .. inits.Select(t => t.Name)], ["y"], attrs));
        var graph = OnnxModel.Load(Save(_tmp, op + ".onnx", g, 18)).Graph;
        var reference = ReferenceInterpreter.Run(graph, inputs)[0];
        using var plan = CandleCompiler.Compile(graph);
        Assert.Equal(reference.ToInt64(), plan.Run(inputs)[0].ToInt64());
        return reference;
    }

    private static int OnnxCode(DType d) => d switch { DType.I32 => 6, DType.I64 => 7, DType.U8 => 2, _ => 1 };

    private static HostTensor I32(params int[] v) => HostTensor.FromArray(v, [v.Length]);

    [Fact]
    public void Int32_bitwise_ops_follow_twos_complement()
    {
        var a = I32(12, -7, int.MaxValue, -1);
        var b = I32(10, 3, int.MinValue, 5);
        Assert.Equal([8L, 1, 0, 5], Run("BitwiseAnd", [a, b], []).ToInt64());
        Assert.Equal([14L, -5, -1, -1], Run("BitwiseOr", [a, b], []).ToInt64());
        Assert.Equal([6L, -6, -1, -6], Run("BitwiseXor", [a, b], []).ToInt64());
        Assert.Equal([-13L, 6, int.MinValue, 0], Run("BitwiseNot", [a], []).ToInt64());
    }

    [Fact]
    public void Uint8_and_int64_bitwise_ops()
    {
        var a = HostTensor.FromArray(new byte[] { 200, 15 }, [2]);
        var b = HostTensor.FromArray(new byte[] { 100, 240 }, [2]);
        Assert.Equal([64L, 0], Run("BitwiseAnd", [a, b], []).ToInt64());
        Assert.Equal([55L, 240], Run("BitwiseNot", [a], []).ToInt64());
        var c = HostTensor.FromArray(new[] { long.MinValue, -1L }, [2]);
        var d = HostTensor.FromArray(new[] { -1L, 123456789012L }, [2]);
        Assert.Equal([long.MinValue, 123456789012L], Run("BitwiseAnd", [c, d], []).ToInt64());
        Assert.Equal([-1L, -1L], Run("BitwiseOr", [c, d], []).ToInt64());
    }

    [Fact]
    public void CenterCropPad_crops_and_pads_around_the_center()
    {
        var x = HostTensor.FromArray(new long[] { 1, 2, 3, 4, 5 }, [5]);
        Assert.Equal([2L, 3, 4], Run("CenterCropPad", [x], [IntTensor("s", [3])]).ToInt64());
        Assert.Equal([1L, 2, 3, 4], Run("CenterCropPad", [x], [IntTensor("s", [4])]).ToInt64());
        // Padding 5 to 8: one zero before, two after (the odd one at the end).
        Assert.Equal([0L, 1, 2, 3, 4, 5, 0, 0], Run("CenterCropPad", [x], [IntTensor("s", [8])]).ToInt64());
    }
}
