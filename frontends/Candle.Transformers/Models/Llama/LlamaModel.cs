using System.Globalization;
using Candle.Torch;
using Candle.Torch.Nn;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Models.Llama;

/// <summary>The decoder stack (transformers' <c>LlamaModel</c> and its Mistral, Qwen2, Gemma and Phi-3 variants).</summary>
public sealed class LlamaModel : Module
{
    private readonly LlamaConfig _config;

    /// <summary>Reads the stack under <paramref name="prefix"/> (<c>model</c>).</summary>
    public LlamaModel(CheckpointWeights weights, string prefix, LlamaConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        _config = config;
        EmbedTokens = RegisterModule("embed_tokens", new EmbeddingLayer(weights, prefix + ".embed_tokens", config.VocabSize, config.HiddenSize));
        Layers = RegisterModule("layers", new ModuleList<LlamaDecoderLayer>(
            Enumerable.Range(0, config.NumLayers).Select(i =>
                new LlamaDecoderLayer(weights, string.Create(CultureInfo.InvariantCulture, $"{prefix}.layers.{i}"), config, i))));
        Norm = RegisterModule("norm", new RmsNormLayer(weights, prefix + ".norm", config.HiddenSize, config.RmsNormEps, config.NormAddsOne));
        RotaryEmb = RegisterModule("rotary_emb", new RotaryEmbedding(config.Rope));
    }

    /// <summary>The token embeddings.</summary>
    public EmbeddingLayer EmbedTokens { get; }

    /// <summary>The decoder layers.</summary>
    public ModuleList<LlamaDecoderLayer> Layers { get; }

    /// <summary>The final norm.</summary>
    public RmsNormLayer Norm { get; }

    /// <summary>The rotary embedding.</summary>
    public RotaryEmbedding RotaryEmb { get; }

    /// <summary>Hidden states [batch, seq, hidden] after the final norm.</summary>
    public Tensor Forward(Tensor inputIds, Tensor positionIds, CacheStep cache)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        ArgumentNullException.ThrowIfNull(cache);
        var h = EmbedTokens.Forward(inputIds);
        if (_config.ScaleEmbeddings) h *= Math.Sqrt(_config.HiddenSize);
        var (cos, sin) = RotaryEmb.Forward(positionIds, h.DType);
        var keyCount = cache.PastLength + inputIds.Shape[1];
        var masks = new Dictionary<int, Tensor>();
        foreach (var layer in Layers)
        {
            Tensor? mask = null;
            if (layer.SlidingWindow is int w && !masks.TryGetValue(w, out mask))
            {
                mask = masks[w] = AttentionMasks.SlidingWindow(positionIds, keyCount, w);
            }

            h = layer.Forward(h, RotaryEmb, cos, sin, mask, cache);
        }

        return Norm.Forward(h);
    }
}
