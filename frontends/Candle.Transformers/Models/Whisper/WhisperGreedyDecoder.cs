using Candle.Compiler.Backends;
using Candle.Runtime;
using Candle.Runtime.Execution;
using Candle.Runtime.Tensors;
using Candle.Transformers.Models.Common;
using Names = Candle.Transformers.Models.Whisper.WhisperGraphNames;

namespace Candle.Transformers.Models.Whisper;

/// <summary>
/// Greedy decoding with a cross-attention cache: the encoder graph runs once per input and yields every decoder
/// layer's cross-attention keys and values; then one compiled decoder-step graph runs per token over the
/// self-attention <see cref="KvCache"/>, feeding only the new tokens. Rows that emit a stop token are padded
/// with the pad token afterwards, as transformers does.
/// </summary>
public sealed class WhisperGreedyDecoder
{
    private readonly WhisperConfig _config;
    private readonly IExecutable _encoder;
    private readonly IExecutable _step;

    /// <summary>Compiles the encoder and decoder-step graphs of <paramref name="model"/> with <paramref name="backend"/>.</summary>
    public WhisperGreedyDecoder(WhisperForConditionalGeneration model, IBackend backend, CompileOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(backend);
        options ??= CompileOptions.Default;
        _config = model.Settings;
        DType = model.DType;
        _encoder = backend.Compile(model.TraceEncoder(), options);
        _step = backend.Compile(model.TraceDecoderStep(), options);
    }

    /// <summary>The dtype of the cached keys and values.</summary>
    public DType DType { get; }

    /// <summary>
    /// Decodes <paramref name="inputFeatures"/> [batch, num_mel_bins, frames] greedily after <paramref name="prompt"/>
    /// (default: decoder_start_token_id), until every row emitted a stop token (default: eos_token_id), the decoder
    /// positions run out, or <paramref name="maxNewTokens"/> tokens were produced.
    /// </summary>
    /// <exception cref="ArgumentException">The prompt is empty or longer than max_target_positions, or the features are mis-shaped.</exception>
    public WhisperDecodeResult Generate(HostTensor inputFeatures, IReadOnlyList<int>? prompt = null, int maxNewTokens = 32, IReadOnlyCollection<int>? stopTokens = null)
    {
        ArgumentNullException.ThrowIfNull(inputFeatures);
        ArgumentOutOfRangeException.ThrowIfNegative(maxNewTokens);
        prompt ??= [_config.DecoderStartTokenId];
        stopTokens ??= [.. _config.EosTokenIds];
        if (prompt.Count == 0) throw new ArgumentException("the decoder prompt is empty", nameof(prompt));
        if (prompt.Count > _config.MaxTargetPositions)
        {
            throw new ArgumentException($"the decoder prompt has {prompt.Count} tokens but max_target_positions is {_config.MaxTargetPositions}", nameof(prompt));
        }

        if (inputFeatures.Rank != 3) throw new ArgumentException($"input_features must be [batch, mel, frames], got {inputFeatures}", nameof(inputFeatures));
        int batch = inputFeatures.Shape[0];
        int layers = _config.DecoderLayers, heads = _config.DecoderAttentionHeads, hd = _config.DModel / heads;

        var encOut = Run(_encoder, new Dictionary<string, HostTensor> { [Names.InputFeatures] = inputFeatures });
        var cache = new KvCache(layers, batch, heads, hd, _config.MaxTargetPositions, DType);
        var rows = Enumerable.Range(0, batch).Select(_ => new List<int>(prompt)).ToArray();
        var done = new bool[batch];
        var stepLogits = new List<float[]>();
        var feed = prompt.ToArray();
        for (int step = 0; step < maxNewTokens && !done.All(d => d) && cache.Length + feed.Length <= _config.MaxTargetPositions; step++)
        {
            var ids = new long[batch * feed.Length];
            for (int b = 0; b < batch; b++)
            {
                for (int t = 0; t < feed.Length; t++) ids[(b * feed.Length) + t] = step == 0 ? feed[t] : rows[b][^1];
            }

            var inputs = new Dictionary<string, HostTensor> { [Names.DecoderInputIds] = HostTensor.FromArray(ids, batch, feed.Length) };
            for (int i = 0; i < layers; i++)
            {
                inputs[DecoderGraphNames.CacheKeys(i)] = cache.KeyRows(i, feed.Length);
                inputs[DecoderGraphNames.CacheValues(i)] = cache.ValueRows(i, feed.Length);
                inputs[Names.CrossKeys(i)] = encOut[Names.CrossKeys(i)];
                inputs[Names.CrossValues(i)] = encOut[Names.CrossValues(i)];
            }

            var outs = Run(_step, inputs);
            cache.CommitRows(
                [.. Enumerable.Range(0, layers).Select(i => outs[DecoderGraphNames.PresentKeys(i)])],
                [.. Enumerable.Range(0, layers).Select(i => outs[DecoderGraphNames.PresentValues(i)])],
                feed.Length);
            var logits = outs[Names.Logits].ToFloat32();
            int vocab = _config.VocabSize, seq = feed.Length;
            var last = new float[batch * vocab];
            for (int b = 0; b < batch; b++)
            {
                Array.Copy(logits, ((b * seq) + seq - 1) * vocab, last, b * vocab, vocab);
                int next = done[b] ? _config.PadTokenId : ArgMax(last.AsSpan(b * vocab, vocab));
                rows[b].Add(next);
                if (stopTokens.Contains(next)) done[b] = true;
            }

            stepLogits.Add(last);
            feed = [0];
        }

        return new WhisperDecodeResult([.. rows], stepLogits, prompt.Count);
    }

    private static Dictionary<string, HostTensor> Run(IExecutable exe, Dictionary<string, HostTensor> byName)
    {
        var inputs = exe.InputNames.Select(n => byName.TryGetValue(n, out var t) ? t : throw new InvalidOperationException($"no value for graph input '{n}'")).ToArray();
        var outs = exe.Run(inputs);
        var result = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        for (int i = 0; i < outs.Length; i++) result[exe.OutputNames[i]] = outs[i];
        return result;
    }

    private static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++)
        {
            if (x[i] > x[best]) best = i;
        }

        return best;
    }
}
