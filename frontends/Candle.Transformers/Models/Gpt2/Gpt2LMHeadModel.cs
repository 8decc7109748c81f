using Candle.Runtime.Weights.SafeTensors;
using Candle.Torch;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Models.Gpt2;

/// <summary>
/// GPT-2 with its LM head (transformers' <c>GPT2LMHeadModel</c>); the head is the token embedding matrix unless
/// <c>tie_word_embeddings</c> is false. Loads checkpoints whose names start with <c>transformer.</c> and the
/// original OpenAI ones that do not.
/// </summary>
public sealed class Gpt2LMHeadModel : CausalLanguageModel
{
    /// <summary>Builds the model from a config and a checkpoint.</summary>
    /// <param name="config">The config.</param>
    /// <param name="weights">The checkpoint.</param>
    /// <param name="allowUnusedTensors">Accept a checkpoint with more layers than the config declares.</param>
    /// <exception cref="InvalidDataException">The config is invalid or its layer count differs from the checkpoint's; the message names the file and key.</exception>
    public Gpt2LMHeadModel(HfConfig config, CheckpointWeights weights, bool allowUnusedTensors = false)
        : base(config, weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        Settings = Gpt2Config.FromHf(config);
        CheckpointLayers.Check(config.Path, "n_layer", Settings.NumLayers,
            i => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"transformer.h.{i}.ln_1.weight"), weights.Contains, allowUnusedTensors);
        Transformer = RegisterModule("transformer", new Gpt2Model(weights, "transformer", Settings));
        if (!Settings.TieWordEmbeddings)
        {
            LmHead = RegisterModule("lm_head", new LinearLayer(weights, "lm_head", Settings.HiddenSize, Settings.VocabSize, bias: false));
        }
    }

    /// <summary>The architecture settings.</summary>
    public Gpt2Config Settings { get; }

    /// <summary>The transformer.</summary>
    public Gpt2Model Transformer { get; }

    /// <summary>The LM head, or null when tied to the token embeddings.</summary>
    public LinearLayer? LmHead { get; }

    /// <inheritdoc/>
    public override int NumLayers => Settings.NumLayers;

    /// <inheritdoc/>
    public override int NumKvHeads => Settings.NumHeads;

    /// <inheritdoc/>
    public override int HeadDim => Settings.HeadDim;

    /// <inheritdoc/>
    public override int VocabSize => Settings.VocabSize;

    /// <inheritdoc/>
    public override int MaxPositions => Settings.MaxPositions;

    /// <inheritdoc/>
    public override IReadOnlyList<int> EosTokenIds => Settings.EosTokenIds;

    /// <summary>Loads a GPT-2 checkpoint (the <see cref="ModelFactory"/> registered for <c>gpt2</c>).</summary>
    public static Gpt2LMHeadModel Load(HfConfig config, ISafeTensorsSource weights, ModelLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(options);
        string location = Path.GetDirectoryName(config.Path) is { Length: > 0 } d ? d : config.Path;
        const string prefix = "transformer.";
        Func<string, string>? rename = weights.Contains(prefix + "wte.weight")
            ? null
            : n => n.StartsWith(prefix, StringComparison.Ordinal) ? n[prefix.Length..] : n;
        return new Gpt2LMHeadModel(config, new CheckpointWeights(weights, options.DType, location, rename) { Progress = options.Progress }, options.AllowUnusedTensors);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor inputIds, Tensor positionIds, CacheStep cache, bool lastOnly)
    {
        var h = Transformer.Forward(inputIds, positionIds, cache);
        if (lastOnly) h = h.Narrow(1, inputIds.Shape[1] - 1, 1);
        var logits = LmHead is not null ? LmHead.Forward(h) : F.Linear(h, Transformer.Wte.Table);
        return logits.Float();
    }
}
