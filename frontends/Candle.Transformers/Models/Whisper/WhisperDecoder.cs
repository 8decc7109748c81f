using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Models.Whisper;

/// <summary>
/// The text decoder: token and learned position embeddings, pre-layer-norm layers with causal self-attention and
/// cross-attention, and a final layer norm (transformers' WhisperDecoder).
/// </summary>
public sealed class WhisperDecoder : Module
{
    /// <summary>Creates the decoder.</summary>
    public WhisperDecoder(WhisperConfig config, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(config);
        EmbedTokens = RegisterModule("embed_tokens", new Embedding(config.VocabSize, config.DModel, dtype));
        EmbedPositions = RegisterModule("embed_positions", new Embedding(config.MaxTargetPositions, config.DModel, dtype));
        Layers = RegisterModule("layers", new ModuleList<WhisperDecoderLayer>(Enumerable.Range(0, config.DecoderLayers).Select(_ => new WhisperDecoderLayer(config, dtype))));
        LayerNorm = RegisterModule("layer_norm", new LayerNorm(config.DModel, dtype: dtype));
    }

    /// <summary>embed_tokens.</summary>
    public Embedding EmbedTokens { get; }

    /// <summary>embed_positions.</summary>
    public Embedding EmbedPositions { get; }

    /// <summary>layers.</summary>
    public ModuleList<WhisperDecoderLayer> Layers { get; }

    /// <summary>layer_norm.</summary>
    public LayerNorm LayerNorm { get; }

    /// <summary>
    /// Decodes [batch, seq] ids at positions past..past+seq−1, where past is <paramref name="cache"/>'s
    /// <see cref="CacheStep.PastLength"/> (nothing cached when null). Per layer: the cross-attention keys and values
    /// of the encoder output; the cache step supplies the self-attention keys and values and records its outputs.
    /// </summary>
    /// <returns>The final states [batch, seq, d_model].</returns>
    public Tensor Forward(Tensor inputIds, IReadOnlyList<Tensor> crossKeys, IReadOnlyList<Tensor> crossValues, CacheStep? cache = null)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        ArgumentNullException.ThrowIfNull(crossKeys);
        ArgumentNullException.ThrowIfNull(crossValues);
        cache ??= CacheStep.None(Layers.Count);
        var positions = EmbedPositions.Weight.Narrow(0, cache.PastLength, inputIds.Shape[1]);
        var h = EmbedTokens.Forward(inputIds) + positions;
        for (int i = 0; i < Layers.Count; i++)
        {
            h = Layers[i].Forward(h, crossKeys[i], crossValues[i], cache, i);
        }

        return LayerNorm.Forward(h);
    }

    /// <summary>The cross-attention keys and values of every layer for the encoder output [batch, enc_seq, d_model].</summary>
    public (Tensor[] Keys, Tensor[] Values) CrossKeyValues(Tensor encoderHidden)
    {
        var kv = Layers.Select(l => l.EncoderAttn.KeyValue(encoderHidden)).ToArray();
        return ([.. kv.Select(x => x.Keys)], [.. kv.Select(x => x.Values)]);
    }
}
