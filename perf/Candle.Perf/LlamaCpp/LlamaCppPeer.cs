using System.Diagnostics;
using LLama;
using LLama.Common;
using LLama.Native;

namespace Candle.Perf.LlamaCpp;

/// <summary>
/// llama.cpp (through LLamaSharp and its CPU backend) on one GGUF file, measured as llama-bench measures: the memory is
/// cleared before each test, the prefill test decodes one batch of N random tokens (logits of the last only), and the
/// decode test runs M single-token decodes.
/// </summary>
public sealed class LlamaCppPeer : IDisposable
{
    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;
    private readonly LLamaBatch _batch = new();

    public LlamaCppPeer(string path, int threads, int contextSize)
    {
        var p = new ModelParams(path)
        {
            ContextSize = (uint)contextSize,
            GpuLayerCount = 0,
            Threads = threads,
            BatchThreads = threads,
            BatchSize = (uint)contextSize,
            UBatchSize = (uint)contextSize,
        };
        _weights = LLamaWeights.LoadFromFile(p);
        _context = _weights.CreateContext(p);
        VocabSize = _weights.Vocab.Count;
    }

    public int VocabSize { get; }

    /// <summary>llama.cpp's system info line (the SIMD features its chosen build uses).</summary>
    public static string SystemInfo() => System.Runtime.InteropServices.Marshal.PtrToStringUTF8(NativeApi.llama_print_system_info())?.Trim() ?? "";

    /// <summary>Silences llama.cpp's log (call before the first load).</summary>
    public static void QuietLogs() => NativeLibraryConfig.All.WithLogCallback((level, message) => { });

    /// <summary>Prefill of <paramref name="tokens"/> from an empty cache; returns tokens per second.</summary>
    public double Prefill(IReadOnlyList<int> tokens)
    {
        _context.NativeHandle.MemoryClear();
        _batch.Clear();
        for (int i = 0; i < tokens.Count; i++) _batch.Add((LLamaToken)tokens[i], i, LLamaSeqId.Zero, i == tokens.Count - 1);
        long start = Stopwatch.GetTimestamp();
        Check(_context.NativeHandle.Decode(_batch));
        _context.NativeHandle.Synchronize();
        return tokens.Count / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary><paramref name="tokens"/>.Count single-token decode steps from an empty cache; returns tokens per second.</summary>
    public double Decode(IReadOnlyList<int> tokens)
    {
        _context.NativeHandle.MemoryClear();
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < tokens.Count; i++)
        {
            _batch.Clear();
            _batch.Add((LLamaToken)tokens[i], i, LLamaSeqId.Zero, true);
            Check(_context.NativeHandle.Decode(_batch));
            _context.NativeHandle.Synchronize();
        }

        return tokens.Count / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>The logits of the last token of <paramref name="tokens"/> (for checking that both peers compute the same model).</summary>
    public float[] LastLogits(IReadOnlyList<int> tokens)
    {
        Prefill(tokens);
        return _context.NativeHandle.GetLogitsIth(tokens.Count - 1).ToArray();
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }

    private static void Check(DecodeResult r)
    {
        if (r != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode failed: {r}");
    }
}
