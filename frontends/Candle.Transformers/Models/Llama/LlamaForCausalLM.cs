using Candle.Runtime.Weights.SafeTensors;
using Candle.Torch;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Models.Llama;

/// <summary>
/// A Llama-family causal language model (transformers' <c>LlamaForCausalLM</c>, <c>MistralForCausalLM</c>,
/// <c>Qwen2ForCausalLM</c>, <c>GemmaForCausalLM</c>, <c>Phi3ForCausalLM</c>): the decoder stack and the LM head,
/// which is the token embedding matrix when <c>tie_word_embeddings</c> is set.
/// </summary>
public sealed class LlamaForCausalLM : CausalLanguageModel
{
    /// <summary>Builds the model from a config and a checkpoint.</summary>
    /// <param name="config">The config.</param>
    /// <param name="weights">The checkpoint.</param>
    /// <param name="allowUnusedTensors">Accept a checkpoint with more layers than the config declares.</param>
    /// <exception cref="InvalidDataException">The config is invalid or its layer count differs from the checkpoint's; the message names the file and key.</exception>
    public LlamaForCausalLM(HfConfig config, CheckpointWeights weights, bool allowUnusedTensors = false)
        : base(config, weights)
    {
        Settings = LlamaConfig.FromHf(config);
        CheckpointLayers.Check(config.Path, "num_hidden_layers", Settings.NumLayers,
            i => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"model.layers.{i}.input_layernorm.weight"), weights.Contains, allowUnusedTensors);
        Model = RegisterModule("model", new LlamaModel(weights, "model", Settings));
        if (!Settings.TieWordEmbeddings)
        {
            LmHead = RegisterModule("lm_head", new LinearLayer(weights, "lm_head", Settings.HiddenSize, Settings.VocabSize, bias: false));
        }
    }

    /// <summary>The architecture settings.</summary>
    public LlamaConfig Settings { get; }

    /// <summary>The decoder stack.</summary>
    public LlamaModel Model { get; }

    /// <summary>The LM head, or null when it is tied to the embeddings.</summary>
    public LinearLayer? LmHead { get; }

    /// <inheritdoc/>
    public override int NumLayers => Settings.NumLayers;

    /// <inheritdoc/>
    public override int NumKvHeads => Settings.NumKvHeads;

    /// <inheritdoc/>
    public override int HeadDim => Settings.HeadDim;

    /// <inheritdoc/>
    public override int VocabSize => Settings.VocabSize;

    /// <inheritdoc/>
    public override int MaxPositions => Settings.MaxPositionEmbeddings;

    /// <inheritdoc/>
    public override IReadOnlyList<int> EosTokenIds => Settings.EosTokenIds;

    /// <summary>Loads a model of any Llama-family type (the <see cref="ModelFactory"/> registered for them).</summary>
    public static LlamaForCausalLM Load(HfConfig config, ISafeTensorsSource weights, ModelLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        string location = Path.GetDirectoryName(config.Path) is { Length: > 0 } d ? d : config.Path;
        return new LlamaForCausalLM(config, new CheckpointWeights(weights, options.DType, location) { Progress = options.Progress }, options.AllowUnusedTensors);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor inputIds, Tensor positionIds, CacheStep cache, bool lastOnly)
    {
        var h = Model.Forward(inputIds, positionIds, cache);
        if (lastOnly) h = h.Narrow(1, inputIds.Shape[1] - 1, 1);
        var logits = LmHead is not null ? LmHead.Forward(h) : Model.EmbedTokens.Project(h);
        return logits.Float();
    }
}
