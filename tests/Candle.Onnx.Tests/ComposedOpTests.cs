using Candle.Compiler;
using Candle.Compiler.Backends.Reference;
using Candle.Onnx.Proto;
using Candle.Runtime.Tensors;
using static Candle.Onnx.Tests.TestModels;

namespace Candle.Onnx.Tests;

/// <summary>Ops the importer composes from IR ops, against values computed by hand, on the interpreter and the CPU plan.</summary>
public sealed class ComposedOpTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-onnx-ops-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private float[] Run(string op, int[] shape, float[] x, int[] outShape, TensorProto[] inits, params AttributeProto[] attrs)
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", 1, [.. shape.Cast<object>()]));
        g.Output.Add(Value("y", 1, [.. outShape.Cast<object>()]));
        g.Initializer.AddRange(inits);
        g.Node.Add(Node(op, ["x", .. inits.Select(i => i.Name)], ["y"], attrs));
        var graph = OnnxModel.Load(Save(_tmp, op + ".onnx", g, 18)).Graph;
        var input = HostTensor.FromArray(x, shape);
        var reference = ReferenceInterpreter.Run(graph, [input])[0];
        using var plan = CandleCompiler.Compile(graph);
        var cpu = plan.Run([input])[0];
        Assert.Equal(outShape, reference.Shape);
        Assert.Equal(reference.ToFloat32(), cpu.ToFloat32());
        return reference.ToFloat32();
    }

    [Fact]
    public void CumSum_exclusive_and_reverse()
    {
        float[] x = [1, 2, 3, 4];
        var axis = IntTensor("axis", [0], scalar: true);
        Assert.Equal([1f, 3f, 6f, 10f], Run("CumSum", [4], x, [4], [axis]));
        Assert.Equal([0f, 1f, 3f, 6f], Run("CumSum", [4], x, [4], [axis], Int("exclusive", 1)));
        Assert.Equal([10f, 9f, 7f, 4f], Run("CumSum", [4], x, [4], [axis], Int("reverse", 1)));
        Assert.Equal([9f, 7f, 4f, 0f], Run("CumSum", [4], x, [4], [axis], Int("reverse", 1), Int("exclusive", 1)));
    }

    [Fact]
    public void Trilu_keeps_the_upper_or_lower_triangle()
    {
        float[] x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        Assert.Equal([1f, 2f, 3f, 0f, 5f, 6f, 0f, 0f, 9f], Run("Trilu", [3, 3], x, [3, 3], []));
        Assert.Equal([1f, 0f, 0f, 4f, 5f, 0f, 7f, 8f, 9f], Run("Trilu", [3, 3], x, [3, 3], [], Int("upper", 0)));
        Assert.Equal([0f, 2f, 3f, 0f, 0f, 6f, 0f, 0f, 0f], Run("Trilu", [3, 3], x, [3, 3], [IntTensor("k", [1], scalar: true)]));
    }

    [Fact]
    public void DepthToSpace_and_SpaceToDepth_invert_each_other()
    {
        // [1, 4, 1, 1] channels 0..3 with blocksize 2 (DCR): the 2x2 block reads channel (i * 2 + j) at (i, j).
        Assert.Equal([0f, 1f, 2f, 3f], Run("DepthToSpace", [1, 4, 1, 1], [0, 1, 2, 3], [1, 1, 2, 2], [], Int("blocksize", 2)));
        Assert.Equal([0f, 1f, 2f, 3f], Run("SpaceToDepth", [1, 1, 2, 2], [0, 1, 2, 3], [1, 4, 1, 1], [], Int("blocksize", 2)));
    }

    [Fact]
    public void GatherElements_takes_negative_indices_from_the_end()
    {
        var idx = IntTensor("idx", [0, -1, 1, 0]);
        idx.Dims.Clear();
        idx.Dims.AddRange([2, 2]);
        Assert.Equal([1f, 2f, 4f, 3f], Run("GatherElements", [2, 2], [1, 2, 3, 4], [2, 2], [idx], Int("axis", 1)));
    }

    [Fact]
    public void Shrink_and_LeakyRelu_by_hand()
    {
        Assert.Equal([-1.5f, 0f, 0f, 1.5f], Run("Shrink", [4], [-2, -0.5f, 0.5f, 2], [4], [], new AttributeProto { Name = "bias", Type = AttributeProto.Types.AttributeType.Float, F = 0.5f }));
        Assert.Equal([-0.2f, 0f, 3f], Run("LeakyRelu", [3], [-2, 0, 3], [3], [], new AttributeProto { Name = "alpha", Type = AttributeProto.Types.AttributeType.Float, F = 0.1f }));
    }

    [Fact]
    public void ConvTranspose_trims_asymmetric_pads_from_the_output()
    {
        // x = [1, 2, 3], w = [1, 1], stride 1: the full output is [1, 3, 5, 3].
        var w = new TensorProto { Name = "w", DataType = 1 };
        w.Dims.AddRange([1, 1, 2]);
        w.FloatData.AddRange([1f, 1f]);
        Assert.Equal([1f, 3f, 5f, 3f], Run("ConvTranspose", [1, 1, 3], [1, 2, 3], [1, 1, 4], [w]));
        Assert.Equal([3f, 5f, 3f], Run("ConvTranspose", [1, 1, 3], [1, 2, 3], [1, 1, 3], [w], Ints("pads", 1, 0)));
        Assert.Equal([1f, 3f, 5f], Run("ConvTranspose", [1, 1, 3], [1, 2, 3], [1, 1, 3], [w], Ints("pads", 0, 1)));
        Assert.Equal([3f, 5f], Run("ConvTranspose", [1, 1, 3], [1, 2, 3], [1, 1, 2], [w], Ints("output_shape", 2)));
    }

    [Fact]
    public void GroupNormalization_normalizes_each_group_and_scales_per_group()
    {
        // Two groups of one channel of two values each: (a - mean) / sqrt(var + eps) is -1, 1 (eps 0); scales 2 and 3, biases 0 and 1.
        var scale = new TensorProto { Name = "scale", DataType = 1 };
        scale.Dims.Add(2);
        scale.FloatData.AddRange([2f, 3f]);
        var bias = new TensorProto { Name = "bias", DataType = 1 };
        bias.Dims.Add(2);
        bias.FloatData.AddRange([0f, 1f]);
        var eps = new AttributeProto { Name = "epsilon", Type = AttributeProto.Types.AttributeType.Float, F = 0f };
        Assert.Equal([-2f, 2f, -2f, 4f], Run("GroupNormalization", [1, 2, 2], [1, 3, 10, 30], [1, 2, 2], [scale, bias], Int("num_groups", 2), eps));
    }

    [Fact]
    public void MaxPool_ceil_mode_keeps_the_partial_last_window()
    {
        // 1-d [1, 2, 3, 4, 5], kernel 2, stride 2: floor gives max(1,2), max(3,4); ceil adds the window [5].
        Assert.Equal([2f, 4f], Run("MaxPool", [1, 1, 5], [1, 2, 3, 4, 5], [1, 1, 2], [], Ints("kernel_shape", 2), Ints("strides", 2)));
        Assert.Equal([2f, 4f, 5f], Run("MaxPool", [1, 1, 5], [1, 2, 3, 4, 5], [1, 1, 3], [], Ints("kernel_shape", 2), Ints("strides", 2), Int("ceil_mode", 1)));
    }

    [Fact]
    public void Det_of_a_3x3_matrix_by_cofactors()
    {
        // 2·(3·2 − 2·1) − 0·(1·2 − 2·1) + 1·(1·1 − 3·1) = 8 − 2 = 6.
        Assert.Equal([6f], Run("Det", [3, 3], [2, 0, 1, 1, 3, 2, 1, 1, 2], [], []));
    }

    [Theory]
    [InlineData("mul", new float[] { 1, 10, 3, -8, 5 })]
    [InlineData("max", new float[] { 1, 10, 3, 4, 5 })]
    [InlineData("min", new float[] { 1, 0.5f, 3, -2, 5 })]
    public void ScatterElements_reductions_combine_repeated_indices_with_the_data(string reduction, float[] expected)
    {
        // Updates 10 and 0.5 land on position 1 (data 2), −2 on position 3 (data 4).
        var updates = new TensorProto { Name = "u", DataType = 1 };
        updates.Dims.Add(3);
        updates.FloatData.AddRange([10, 0.5f, -2]);
        var reduce = new AttributeProto { Name = "reduction", Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8(reduction) };
        Assert.Equal(expected, Run("ScatterElements", [5], [1, 2, 3, 4, 5], [5], [IntTensor("i", [1, 1, 3]), updates], reduce));
    }

    [Fact]
    public void ScatterElements_max_with_updates_narrower_than_the_data_leaves_the_rest()
    {
        var updates = new TensorProto { Name = "u", DataType = 1 };
        updates.Dims.AddRange([1, 2]);
        updates.FloatData.AddRange([3, 4]);
        var index = new TensorProto { Name = "i", DataType = 7 };
        index.Dims.AddRange([1, 2]);
        index.Int64Data.AddRange([0, 0]);
        var reduce = new AttributeProto { Name = "reduction", Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8("max") };
        Assert.Equal([4f, 2f, 3f, 4f, 5f, 6f], Run("ScatterElements", [2, 3], [1, 2, 3, 4, 5, 6], [2, 3], [index, updates], reduce, Int("axis", 1)));
    }

    [Fact]
    public void Col2Im_places_the_spec_example_columns_as_image_rows()
    {
        // ONNX's Col2Im example: 5 columns of a [1, 5] block over a 5×5 image are its rows.
        float[] input = [1, 6, 11, 16, 21, 2, 7, 12, 17, 22, 3, 8, 13, 18, 23, 4, 9, 14, 19, 24, 5, 0, 15, 20, 25];
        float[] expected = [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25];
        Assert.Equal(expected, Run("Col2Im", [1, 5, 5], input, [1, 1, 5, 5], [IntTensor("image", [5, 5]), IntTensor("block", [1, 5])]));
    }

    [Fact]
    public void Col2Im_adds_overlapping_blocks()
    {
        // 1-d image of 4, block 2, stride 1: offsets 0 and 1 of block positions 0..2 overlap: [a0, a1 + b0, a2 + b1, b2].
        Assert.Equal([1f, 12f, 23f, 30f], Run("Col2Im", [1, 2, 3], [1, 2, 3, 10, 20, 30], [1, 1, 4], [IntTensor("image", [4]), IntTensor("block", [2])]));
    }
}
