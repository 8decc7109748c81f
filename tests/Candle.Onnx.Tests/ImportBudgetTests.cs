using Candle.Compiler.Backends.Reference;
using Candle.Onnx.Proto;
using Candle.Runtime.Tensors;
using static Candle.Onnx.Tests.TestModels;

namespace Candle.Onnx.Tests;

/// <summary>
/// The import budget (<see cref="OnnxImportOptions.MaxNodes"/>, <see cref="OnnxImportOptions.MaxConstantElements"/>):
/// one account of every node imported or unrolled and every constant element computed, exact where counted by hand, and
/// hostile tiny models (nested loops, huge sizes given as values) refused with an error naming the node, its op and the
/// budget before the expansion is built.
/// </summary>
public sealed class ImportBudgetTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-onnx-budget-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static AttributeProto Graph(string name, GraphProto g) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Graph, G = g };

    private static TensorProto FloatScalar(string name, float v)
    {
        var t = new TensorProto { Name = name, DataType = 1 };
        t.FloatData.Add(v);
        return t;
    }

    /// <summary>A Loop body: (i, cond, s) → (cond, s + 1) in two nodes, or (cond, inner loop of s) when <paramref name="inner"/> is given.</summary>
    private static GraphProto LoopBody(string p, NodeProto? inner, TensorProto? innerTrips)
    {
        var body = new GraphProto { Name = p + "body" };
        body.Input.Add(Value(p + "i", 7));
        body.Input.Add(Value(p + "cin", 9));
        body.Input.Add(Value(p + "s", 1, 1));
        body.Node.Add(Node("Identity", [p + "cin"], [p + "cout"]));
        if (inner is null)
        {
            body.Initializer.Add(FloatScalar(p + "one", 1));
            body.Node.Add(Node("Add", [p + "s", p + "one"], [p + "sout"]));
        }
        else
        {
            body.Initializer.Add(innerTrips);
            body.Node.Add(inner);
        }

        body.Output.Add(Value(p + "cout", 9));
        body.Output.Add(Value(p + "sout", 1, 1));
        return body;
    }

    /// <summary>Loops nested <paramref name="depth"/> deep, each running <paramref name="trips"/> iterations of s + 1 innermost.</summary>
    private string NestedLoops(int depth, long trips)
    {
        NodeProto? inner = null;
        string innerIn = string.Empty;
        for (int level = depth - 1; level >= 0; level--)
        {
            string p = $"l{level}_";
            string input = level == 0 ? "x" : $"l{level - 1}_s";
            string output = level == 0 ? "y" : $"l{level - 1}_sout";
            var body = LoopBody(p, inner, inner is null ? null : IntTensor($"{p}m", [trips], scalar: true));
            if (inner is not null) body.Node[^1].Output[0] = $"{p}sout";
            inner = Node("Loop", [level == 0 ? "m" : $"l{level - 1}_m", string.Empty, input], [output], Graph("body", body));
            inner.Name = $"loop{level}";
            innerIn = input;
        }

        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", 1, 1));
        g.Output.Add(Value("y", 1, 1));
        g.Initializer.Add(IntTensor("m", [trips], scalar: true));
        g.Node.Add(inner);
        return Save(_tmp, $"nested{depth}x{trips}.onnx", g, 13);
    }

    [Fact]
    public void A_loop_is_charged_one_node_for_itself_and_one_per_body_copy_and_body_node()
    {
        // Loop (1) + 10 copies × (the copy + Identity + Add) = 31: a budget of 31 imports it, 30 refuses it.
        string path = NestedLoops(1, 10);
        var graph = OnnxModel.Load(path, new OnnxImportOptions { MaxNodes = 31 }).Graph;
        Assert.Equal(new float[] { 12 }, ReferenceInterpreter.Run(graph, [HostTensor.FromArray(new float[] { 2 }, [1])])[0].ToFloat32());
        var e = Assert.Throws<OnnxImportException>(() => OnnxModel.Load(path, new OnnxImportOptions { MaxNodes = 30 }));
        Assert.Contains("node 'loop0' (Loop): unrolling 10 iterations of at least 3 nodes each", e.Message, StringComparison.Ordinal);
        Assert.Contains("import budget of 30 nodes (OnnxImportOptions.MaxNodes)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Nested_loops_share_one_budget()
    {
        // Two levels of 3: outer Loop 1 + 3 × (copy 1 + Identity 1 + inner Loop 1 + 3 × 3) = 37.
        string path = NestedLoops(2, 3);
        var graph = OnnxModel.Load(path, new OnnxImportOptions { MaxNodes = 37 }).Graph;
        Assert.Equal(new float[] { 9 }, ReferenceInterpreter.Run(graph, [HostTensor.FromArray(new float[] { 0 }, [1])])[0].ToFloat32());
        var e = Assert.Throws<OnnxImportException>(() => OnnxModel.Load(path, new OnnxImportOptions { MaxNodes = 36 }));
        Assert.Contains("node 'loop0' (Loop): unrolling 3 iterations of at least 12 nodes each", e.Message, StringComparison.Ordinal);
        Assert.Contains("import budget of 36 nodes", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2, 4096)] // 16.7M body copies
    [InlineData(8, 8)] // 16.7M body copies, eight deep
    public void Hostile_nested_loops_are_refused_at_the_default_budget_naming_the_outer_loop(int depth, long trips)
    {
        var e = Assert.Throws<OnnxImportException>(() => OnnxModel.Load(NestedLoops(depth, trips)));
        Assert.Contains($"node 'loop0' (Loop): unrolling {trips} iterations", e.Message, StringComparison.Ordinal);
        Assert.Contains("import budget of 1000000 nodes (OnnxImportOptions.MaxNodes)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_loop_whose_nesting_is_not_visible_before_import_is_still_stopped_by_the_per_copy_charges()
    {
        // The inner trip count comes from the outer state (not a literal), so nothing is reserved for it: the copies are
        // charged as they are built, and a small budget stops the import naming the outer loop.
        string path = NestedLoops(2, 50);
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        var outerBody = model.Graph.Node[0].Attribute[0].G;
        var innerTrips = outerBody.Initializer[0];
        outerBody.Initializer.Clear();
        outerBody.Node.Insert(0, Node("Identity", [innerTrips.Name + "_src"], [innerTrips.Name]));
        innerTrips.Name += "_src";
        model.Graph.Initializer.Add(innerTrips);
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(model));
        var e = Assert.Throws<OnnxImportException>(() => OnnxModel.Load(path, new OnnxImportOptions { MaxNodes = 2000 }));
        Assert.Contains("node 'loop0' (Loop) (unrolling its bodies, ", e.Message, StringComparison.Ordinal);
        Assert.Contains("import budget of 2000 nodes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Recurrent_steps_are_charged_to_the_same_budget()
    {
        // RNN over 100 steps, one direction: the node and its unrolled steps do not fit 1,000 nodes.
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", 1, 100, 1, 2));
        g.Input.Add(Value("w", 1, 1, 3, 2));
        g.Input.Add(Value("r", 1, 1, 3, 3));
        g.Output.Add(Value("y", 1, 100, 1, 1, 3));
        g.Node.Add(Node("RNN", ["x", "w", "r"], ["y"], Int("hidden_size", 3)));
        string path = Save(_tmp, "rnn.onnx", g, 14);
        Assert.NotNull(OnnxModel.Load(path).Graph);
        var e = Assert.Throws<OnnxImportException>(() => OnnxModel.Load(path, new OnnxImportOptions { MaxNodes = 1000 }));
        Assert.Contains("node 'RNN_y' (RNN): unrolling 100 steps", e.Message, StringComparison.Ordinal);
        Assert.Contains("import budget of 1000 nodes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_huge_filter_bank_given_as_values_is_refused_before_it_is_allocated()
    {
        // num_mel_bins and dft_length of 2^20: a 524,289 × 1,048,576 constant (5.5e11 elements).
        var g = new GraphProto { Name = "g" };
        g.Initializer.Add(IntTensor("mels", [1 << 20], scalar: true));
        g.Initializer.Add(IntTensor("dft", [1 << 20], scalar: true));
        g.Initializer.Add(IntTensor("rate", [16000], scalar: true));
        g.Initializer.Add(FloatScalar("low", 0));
        g.Initializer.Add(FloatScalar("high", 8000));
        g.Output.Add(Value("y", 1, 524289, 1 << 20));
        g.Node.Add(Node("MelWeightMatrix", ["mels", "dft", "rate", "low", "high"], ["y"]));
        var e = Assert.Throws<OnnxImportException>(() => OnnxModel.Load(Save(_tmp, "mel.onnx", g, 17)));
        Assert.Contains("(MelWeightMatrix): a 524289 × 1048576 filter bank", e.Message, StringComparison.Ordinal);
        Assert.Contains("import budget of 67108864 constant elements (OnnxImportOptions.MaxConstantElements)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Transform_matrices_of_several_nodes_add_up_in_one_account()
    {
        // Two DFTs of 64 points: 2·64·64 = 8,192 elements each; a budget of 16,383 admits the first, refuses the second.
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", 1, 1, 64, 1));
        g.Output.Add(Value("a", 1, 1, 64, 2));
        g.Output.Add(Value("b", 1, 1, 64, 2));
        g.Node.Add(Node("DFT", ["x"], ["a"]));
        g.Node.Add(Node("DFT", ["x"], ["b"]));
        string path = Save(_tmp, "dft.onnx", g, 20);
        Assert.NotNull(OnnxModel.Load(path, new OnnxImportOptions { MaxConstantElements = 16384 }).Graph);
        var e = Assert.Throws<OnnxImportException>(() => OnnxModel.Load(path, new OnnxImportOptions { MaxConstantElements = 16383 }));
        Assert.Contains("node 'DFT_b' (DFT): the cosine and sine matrices of a 64-point transform", e.Message, StringComparison.Ordinal);
        Assert.Contains("8192 were computed before it, it needs 8192 more", e.Message, StringComparison.Ordinal);
    }
}
