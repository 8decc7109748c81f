using Candle.Compiler.Backends;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime;
using Candle.Runtime.Execution;
using Candle.Runtime.Tensors;
using Candle.Torch.Nn;
using Candle.Transformers.Models.Bert;

namespace Candle.Perf.MiniLm;

/// <summary>A MiniLM-shaped BERT encoder (all-MiniLM-L6-v2's shape) with random weights, compiled by a Candle backend.</summary>
public sealed class MiniLmModel
{
    public static BertConfig Shape { get; } = new()
    {
        VocabSize = 30522,
        HiddenSize = 384,
        NumHiddenLayers = 6,
        NumAttentionHeads = 12,
        IntermediateSize = 1536,
        MaxPositionEmbeddings = 512,
        TypeVocabSize = 2,
        HiddenAct = "gelu",
    };

    private readonly IExecutable _exe;
    private readonly HostTensor[] _inputs;

    /// <summary>
    /// Builds the model; with <paramref name="optimize"/> the default pass pipeline runs before the backend;
    /// <paramref name="attention"/> is an <see cref="AttentionImplementation"/> name.
    /// </summary>
    public MiniLmModel(IBackend backend, int threads, int seq, bool optimize, string attention = AttentionImplementation.Sdpa)
    {
        Init.ManualSeed(7);
        var model = new BertModel(Shape with { AttnImplementation = attention });
        Graph = model.TraceForward();
        if (optimize) Graph = PassManager.CreateDefault().Run(Graph, new PassContext { Capabilities = backend.Capabilities });
        _exe = backend.Compile(Graph, new CompileOptions { Threads = threads });
        var rng = new Random(seq);
        var ids = new long[seq];
        for (int i = 0; i < seq; i++) ids[i] = i == 0 ? 101 : i == seq - 1 ? 102 : rng.Next(1000, Shape.VocabSize);
        var mask = Enumerable.Repeat(1L, seq).ToArray();
        var types = new long[seq];
        _inputs = [HostTensor.FromArray(ids, 1, seq), HostTensor.FromArray(mask, 1, seq), HostTensor.FromArray(types, 1, seq)];
    }

    public Graph Graph { get; }

    /// <summary>Runs once; returns the first element of last_hidden_state.</summary>
    public float Run() => _exe.Run(_inputs)[0].AsSpan<float>()[0];
}
