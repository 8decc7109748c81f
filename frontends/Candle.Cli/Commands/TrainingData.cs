using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Transformers.Models;
using Candle.Transformers.Training;

namespace Candle.Cli.Commands;

/// <summary>
/// Reads a training batch for a model: every tensor of the safetensors file, checked and completed by
/// <see cref="TrainingObjective.Prepare"/> (causal LM labels default to input_ids; Whisper's decoder_input_ids to the
/// shifted labels).
/// </summary>
internal static class TrainingData
{
    /// <summary>The keys <c>candle grad</c>/<c>candle train</c> read, per model family, for the commands' help.</summary>
    public const string KeysHelp =
        "safetensors batch; keys by model: causal LMs (llama, mistral, qwen2, gemma, phi3, gpt2): input_ids [batch, seq] and labels [batch, seq] " +
        "(default input_ids; shifted inside the loss); ViT image classifiers: pixel_values f32 [batch, channels, image, image] and labels [batch]; " +
        "Whisper: input_features f32 [batch, mel bins, frames], labels [batch, seq] and optionally decoder_input_ids (default: labels shifted right " +
        "behind decoder_start_token_id); BERT task heads: input_ids [batch, seq], optionally attention_mask and token_type_ids [batch, seq], and labels: " +
        "for BertForSequenceClassification integer class ids [batch] (single-label), float targets [batch] (regression, num_labels 1) or float [batch, num_labels] " +
        "(multi-label), as config.json's problem_type says or else the labels' dtype; for BertForTokenClassification and BertForMaskedLM integer [batch, seq]. " +
        "Labels equal to -100 are ignored";

    public static Dictionary<string, HostTensor> Read(string path, IPretrainedModel model)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file");
        using var file = SafeTensorsFile.Open(path);
        var all = file.Names.ToDictionary(n => n, n => file.Get(n).Clone(), StringComparer.Ordinal);
        return TrainingObjective.Prepare(model, all, path);
    }
}
