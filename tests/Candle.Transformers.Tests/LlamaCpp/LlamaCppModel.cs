using System.Text;
using LLama;
using LLama.Common;
using LLama.Native;

namespace Candle.Transformers.Tests.LlamaCpp;

/// <summary>llama.cpp (LLamaSharp's CPU backend) on one GGUF file: its logits for a prompt and its tokenizer.</summary>
internal sealed class LlamaCppModel : IDisposable
{
    private static readonly Lock Gate = new();
    private static bool _quiet;
    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;

    public LlamaCppModel(string path, int contextSize = 64)
    {
        EnsureLoaded();

        var p = new ModelParams(path)
        {
            ContextSize = (uint)contextSize,
            GpuLayerCount = 0,
            Threads = 1,
            BatchThreads = 1,
            BatchSize = (uint)contextSize,
            UBatchSize = (uint)contextSize,
        };
        _weights = LLamaWeights.LoadFromFile(p);
        _context = _weights.CreateContext(p);
    }

    /// <summary>Loads llama.cpp's library (quietly) before a direct native call such as llama_model_quantize.</summary>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (!_quiet)
            {
                NativeLibraryConfig.All.WithLogCallback((level, message) => { });
                NativeApi.llama_empty_call();
                _quiet = true;
            }
        }
    }

    /// <summary>llama.cpp's token ids for <paramref name="text"/> from a file loaded vocabulary-only (no tensors needed).</summary>
    public static int[] TokenizeVocabOnly(string path, string text, bool addBos)
    {
        EnsureLoaded();
        using var weights = LLamaWeights.LoadFromFile(new ModelParams(path) { VocabOnly = true, GpuLayerCount = 0 });
        return [.. weights.Tokenize(text, addBos, special: false, Encoding.UTF8).Select(t => (int)t)];
    }

    /// <summary>Logits [ids.Length × vocab] for every position of one batch.</summary>
    public float[] Logits(IReadOnlyList<long> ids)
    {
        _context.NativeHandle.MemoryClear();
        var batch = new LLamaBatch();
        for (int i = 0; i < ids.Count; i++) batch.Add((LLamaToken)(int)ids[i], i, LLamaSeqId.Zero, true);
        var r = _context.NativeHandle.Decode(batch);
        if (r != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode failed: {r}");
        int vocab = _weights.Vocab.Count;
        var all = new float[ids.Count * vocab];
        for (int i = 0; i < ids.Count; i++) _context.NativeHandle.GetLogitsIth(i).CopyTo(all.AsSpan(i * vocab, vocab));
        return all;
    }

    /// <summary>llama.cpp's token ids for <paramref name="text"/> (no special-token parsing).</summary>
    public int[] Tokenize(string text, bool addBos) =>
        [.. _weights.Tokenize(text, addBos, special: false, Encoding.UTF8).Select(t => (int)t)];

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }
}
