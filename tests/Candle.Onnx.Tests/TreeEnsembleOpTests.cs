using Candle.Compiler;
using Candle.Compiler.Backends.Reference;
using Candle.Onnx.Proto;
using Candle.Runtime.Tensors;
using static Candle.Onnx.Tests.TestModels;

namespace Candle.Onnx.Tests;

/// <summary>TreeEnsemble's aggregate functions and missing-value tracking on two small trees, computed by hand.</summary>
public sealed class TreeEnsembleOpTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-onnx-trees-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static AttributeProto TensorAttr(string name, int type, double[] values)
    {
        var t = new TensorProto { Name = name, DataType = type };
        t.Dims.Add(values.Length);
        if (type == 2) t.Int32Data.AddRange(values.Select(v => (int)v));
        else t.FloatData.AddRange(values.Select(v => (float)v));
        return new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = t };
    }

    /// <summary>
    /// Tree 0 (root node 0): x0 ≤ 0.5 ? leaf 0 (target 0, weight 1) : node 1: x1 &lt; 2 ? leaf 1 (target 0, 10) : leaf 2
    /// (target 1, 100); node 1 sends a NaN to its true branch. Tree 1 (root node 2): x1 ≥ 0 ? leaf 3 (target 0, −4) :
    /// leaf 4 (target 1, 7).
    /// </summary>
    private HostTensor Run(long aggregate, float[] x, int rows)
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", 1, rows, 2));
        g.Output.Add(Value("y", 1, rows, 2));
        g.Node.Add(Node("TreeEnsemble", ["x"], ["y"],
            Ints("nodes_featureids", 0, 1, 1), TensorAttr("nodes_modes", 2, [0, 1, 2]), TensorAttr("nodes_splits", 1, [0.5, 2, 0]),
            Ints("nodes_truenodeids", 0, 1, 3), Ints("nodes_trueleafs", 1, 1, 1), Ints("nodes_falsenodeids", 1, 2, 4), Ints("nodes_falseleafs", 0, 1, 1),
            Ints("nodes_missing_value_tracks_true", 0, 1, 0), Ints("leaf_targetids", 0, 0, 1, 0, 1), TensorAttr("leaf_weights", 1, [1, 10, 100, -4, 7]),
            Ints("tree_roots", 0, 2), Int("n_targets", 2), Int("aggregate_function", aggregate)));
        g.Node[0].Domain = "ai.onnx.ml";
        string path = Save(_tmp, $"trees{aggregate}.onnx", g, 21);
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "ai.onnx.ml", Version = 5 });
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(model));
        var graph = OnnxModel.Load(path).Graph;
        var input = HostTensor.FromArray(x, rows, 2);
        var reference = ReferenceInterpreter.Run(graph, [input])[0];
        using var plan = CandleCompiler.Compile(graph);
        Assert.Equal(reference.ToFloat32(), plan.Run([input])[0].ToFloat32());
        return reference;
    }

    // Rows: (0, 5) → tree 0 leaf 0, tree 1 leaf 3; (1, 1) → leaf 1, leaf 3; (1, −3) → leaf 1, leaf 4;
    // (1, NaN) → leaf 1 (NaN tracks true), and NaN ≥ 0 is false → leaf 4; (1, 3) → leaf 2, leaf 3.
    private static readonly float[] Rows = [0, 5, 1, 1, 1, -3, 1, float.NaN, 1, 3];

    [Fact]
    public void Sum_and_average_add_the_reached_leaves_per_target()
    {
        Assert.Equal([-3f, 0, 6, 0, 10, 7, 10, 7, -4, 100], Run(1, Rows, 5).ToFloat32());
        Assert.Equal([-1.5f, 0, 3, 0, 5, 3.5f, 5, 3.5f, -2, 50], Run(0, Rows, 5).ToFloat32());
    }

    [Fact]
    public void Min_and_max_start_from_the_extreme_finite_values()
    {
        float hi = float.MaxValue, lo = float.MinValue;
        Assert.Equal([-4f, hi, -4, hi, 10, 7, 10, 7, -4, 100], Run(2, Rows, 5).ToFloat32());
        Assert.Equal([1f, lo, 10, lo, 10, 7, 10, 7, -4, 100], Run(3, Rows, 5).ToFloat32());
    }

    [Fact]
    public void A_post_transform_is_an_import_error_naming_it()
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", 1, 1, 1));
        g.Output.Add(Value("y", 1, 1, 1));
        g.Node.Add(Node("TreeEnsemble", ["x"], ["y"], Int("post_transform", 2)));
        g.Node[0].Domain = "ai.onnx.ml";
        string path = Save(_tmp, "post.onnx", g, 21);
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "ai.onnx.ml", Version = 5 });
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(model));
        var e = Assert.Throws<OnnxImportException>(() => OnnxModel.Load(path));
        Assert.Contains("TreeEnsemble", e.Message, StringComparison.Ordinal);
        Assert.Contains("post_transform 2", e.Message, StringComparison.Ordinal);
    }
}
