using Candle.Compiler;
using Candle.Compiler.Backends.Reference;
using Candle.Onnx.Proto;
using Candle.Runtime.Tensors;
using static Candle.Onnx.Tests.TestModels;

namespace Candle.Onnx.Tests;

/// <summary>Composed pools (LpPool, dilations, AveragePool's ceil_mode, MaxPool's Indices) against values computed by hand.</summary>
public sealed class PoolOpTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-onnx-pool-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    /// <summary>A 1-d pool over x [1, 1, len]; the interpreter and the CPU plan must agree.</summary>
    private HostTensor[] Run(string op, float[] x, int outputs, params AttributeProto[] attrs)
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", 1, 1, 1, x.Length));
        g.Output.Add(Value("y", 1, 1, 1, "n"));
        if (outputs > 1) g.Output.Add(Value("i", 7, 1, 1, "n"));
        g.Node.Add(Node(op, ["x"], outputs > 1 ? ["y", "i"] : ["y"], attrs));
        var graph = OnnxModel.Load(Save(_tmp, op + ".onnx", g, 22)).Graph;
        var input = HostTensor.FromArray(x, [1, 1, x.Length]);
        var reference = ReferenceInterpreter.Run(graph, [input]);
        using var plan = CandleCompiler.Compile(graph);
        var cpu = plan.Run([input]);
        for (int i = 0; i < outputs; i++) Assert.Equal(reference[i].ToFloat32(), cpu[i].ToFloat32());
        return reference;
    }

    [Fact]
    public void LpPool_takes_the_p_norm_of_each_window()
    {
        Assert.Equal([5f, 0f], Run("LpPool", [3, 4, 0, 0], 1, Ints("kernel_shape", 2), Ints("strides", 2))[0].ToFloat32());
        // p = 1 over zero pads: |0|+|1|, |1|+|−2|, |−2|+|3|, |3|+|0|.
        Assert.Equal([1f, 3f, 5f, 3f], Run("LpPool", [1, -2, 3], 1, Ints("kernel_shape", 2), Int("p", 1), Ints("pads", 1, 1))[0].ToFloat32());
    }

    [Fact]
    public void Dilated_AveragePool_skips_between_taps()
    {
        Assert.Equal([2f, 3f, 4f], Run("AveragePool", [1, 2, 3, 4, 5], 1, Ints("kernel_shape", 2), Ints("dilations", 2))[0].ToFloat32());
    }

    [Fact]
    public void AveragePool_ceil_mode_averages_the_partial_last_window_over_its_elements()
    {
        Assert.Equal([1.5f, 3.5f, 5f], Run("AveragePool", [1, 2, 3, 4, 5], 1, Ints("kernel_shape", 2), Ints("strides", 2), Int("ceil_mode", 1))[0].ToFloat32());
    }

    [Fact]
    public void MaxPool_Indices_are_flat_input_positions_of_the_first_maximum()
    {
        var r = Run("MaxPool", [1, 3, 3, 5, 4], 2, Ints("kernel_shape", 2), Ints("strides", 1));
        Assert.Equal([3f, 3f, 5f, 5f], r[0].ToFloat32());
        Assert.Equal([1L, 1L, 3L, 3L], r[1].ToInt64());
    }
}
