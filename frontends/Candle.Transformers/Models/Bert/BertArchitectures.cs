using System.Globalization;
using Candle.Runtime;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Bert;

/// <summary>
/// Picks the BERT class a checkpoint holds: the first of config.json's <c>architectures</c> that is BertModel,
/// BertForSequenceClassification, BertForTokenClassification or BertForMaskedLM; without one, the tensors decide
/// (<c>classifier.weight</c> beside <c>bert.</c>-prefixed encoder weights: a sequence classifier, as transformers'
/// AutoModel cannot tell the two classifiers apart either; <c>cls.predictions.*</c> alone: a masked LM; else the
/// bare encoder).
/// </summary>
public static class BertArchitectures
{
    /// <summary>The class names this loader builds, in the order above.</summary>
    public static IReadOnlyList<string> Names { get; } = ["BertModel", "BertForSequenceClassification", "BertForTokenClassification", "BertForMaskedLM"];

    /// <summary>Builds the model the config's architectures or the checkpoint's tensors name.</summary>
    /// <exception cref="StateDictException">A tensor is missing or mis-shaped; the message names it and both shapes.</exception>
    public static IPretrainedModel LoadAuto(HfConfig config, ISafeTensorsSource weights, ModelLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        return Architecture(config, weights) switch
        {
            "BertForSequenceClassification" => BertForSequenceClassification.Load(config, weights, options),
            "BertForTokenClassification" => BertForTokenClassification.Load(config, weights, options),
            "BertForMaskedLM" => BertForMaskedLM.Load(config, weights, options),
            _ => BertModel.Load(config, weights, options),
        };
    }

    /// <summary>The class <see cref="LoadAuto"/> builds for this config and checkpoint.</summary>
    public static string Architecture(HfConfig config, ISafeTensorsSource weights)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        if (config.GetStringList("architectures").FirstOrDefault(a => Names.Contains(a, StringComparer.Ordinal)) is { } named) return named;
        bool prefixed = weights.Contains("bert.embeddings.word_embeddings.weight");
        if (prefixed && weights.Contains("classifier.weight")) return "BertForSequenceClassification";
        if (prefixed && weights.Contains("cls.predictions.transform.dense.weight") && !weights.Contains("cls.seq_relationship.weight")) return "BertForMaskedLM";
        return "BertModel";
    }

    /// <summary>The traced text inputs of every BERT class: input_ids, attention_mask, token_type_ids [batch, seq] int64.</summary>
    internal static TraceInput[] TextInputs =>
    [
        new("input_ids", DType.I64, "batch", "seq"),
        new("attention_mask", DType.I64, "batch", "seq"),
        new("token_type_ids", DType.I64, "batch", "seq"),
    ];

    /// <summary>Checks a task model's checkpoint has the config's layers under <c>bert.</c>; returns its name lookup (legacy names resolved).</summary>
    internal static CheckpointLookup CheckLayers(HfConfig config, ISafeTensorsSource weights, BertConfig settings, ModelLoadOptions options)
    {
        var lookup = new CheckpointLookup(weights, "bert.embeddings.word_embeddings.weight", "");
        Common.CheckpointLayers.Check(config.Path, "num_hidden_layers", settings.NumHiddenLayers,
            i => string.Create(CultureInfo.InvariantCulture, $"bert.encoder.layer.{i}.attention.self.query.weight"), lookup.Contains, options.AllowUnusedTensors);
        return lookup;
    }
}
