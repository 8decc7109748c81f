using Candle.Compiler;
using Candle.Compiler.Backends.Reference;
using Candle.Onnx.Proto;
using Candle.Runtime.Tensors;
using Google.Protobuf;
using static Candle.Onnx.Tests.TestModels;

namespace Candle.Onnx.Tests;

/// <summary>TfIdfVectorizer's TF, IDF and TFIDF weightings of a 1-D input with skips, counted by hand.</summary>
public sealed class TfIdfVectorizerOpTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-onnx-tfidf-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private float[] Run(string mode, params float[] weights)
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", 6, 5));
        g.Output.Add(Value("y", 1, 3));
        var attrs = new List<AttributeProto>
        {
            new() { Name = "mode", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(mode) },
            Int("min_gram_length", 1), Int("max_gram_length", 2), Int("max_skip_count", 1),
            Ints("pool_int64s", 1, 3, 1, 2), Ints("ngram_counts", 0, 2), Ints("ngram_indexes", 0, 1, 2),
        };
        if (weights.Length > 0)
        {
            var w = new AttributeProto { Name = "weights", Type = AttributeProto.Types.AttributeType.Floats };
            w.Floats.AddRange(weights);
            attrs.Add(w);
        }

        g.Node.Add(Node("TfIdfVectorizer", ["x"], ["y"], [.. attrs]));
        var graph = OnnxModel.Load(Save(_tmp, mode + ".onnx", g, 9)).Graph;
        var x = HostTensor.FromArray(new[] { 1, 2, 1, 5, 2 }, 5);
        var reference = ReferenceInterpreter.Run(graph, [x])[0].ToFloat32();
        using var plan = CandleCompiler.Compile(graph);
        Assert.Equal(reference, plan.Run([x])[0].ToFloat32());
        return reference;
    }

    [Fact]
    public void Counts_unigrams_once_and_bigrams_at_every_skip()
    {
        // [1, 2, 1, 5, 2]: the 1-gram 1 twice, 3 never; the 2-gram (1, 2) adjacent at 0–1 and one apart at 2–4.
        Assert.Equal([2f, 0, 2], Run("TF"));
        Assert.Equal([1f, 0, 0.5f], Run("TFIDF", 0.5f, 2, 0.25f));
        Assert.Equal([0.5f, 0, 0.25f], Run("IDF", 0.5f, 2, 0.25f));
        Assert.Equal([1f, 0, 1], Run("IDF"));
    }
}
