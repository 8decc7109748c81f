using System.Globalization;
using Candle.Runtime.Tensors;

namespace Candle.Transformers.Tests.Encoders;

/// <summary>
/// Random-weight BERT task checkpoints (BertForSequenceClassification, BertForTokenClassification, BertForMaskedLM)
/// with the tensor names transformers saves, written tensor by tensor from its module layout.
/// </summary>
internal static class TinyBert
{
    public const int Vocab = 12, Hidden = 8, Heads = 2, Intermediate = 12, MaxPositions = 8, Types = 2;

    /// <summary>Writes config.json and model.safetensors of <paramref name="architecture"/>; <paramref name="configExtra"/> adds JSON members.</summary>
    public static TinyCheckpoint Create(int seed, string architecture, int layers = 1, string configExtra = "", bool writeArchitectures = true)
    {
        var c = new TinyCheckpoint(seed);
        c.Add("bert.embeddings.word_embeddings.weight", 0.8f, Vocab, Hidden);
        c.Add("bert.embeddings.position_embeddings.weight", 0.5f, MaxPositions, Hidden);
        c.Add("bert.embeddings.token_type_embeddings.weight", 0.5f, Types, Hidden);
        c.AddNorm("bert.embeddings.LayerNorm", Hidden);
        for (int l = 0; l < layers; l++)
        {
            string p = string.Create(CultureInfo.InvariantCulture, $"bert.encoder.layer.{l}.");
            foreach (var proj in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense" })
            {
                c.Add(p + proj + ".weight", 0.5f, Hidden, Hidden);
                c.Add(p + proj + ".bias", 0.1f, Hidden);
            }

            c.AddNorm(p + "attention.output.LayerNorm", Hidden);
            c.Add(p + "intermediate.dense.weight", 0.5f, Intermediate, Hidden);
            c.Add(p + "intermediate.dense.bias", 0.1f, Intermediate);
            c.Add(p + "output.dense.weight", 0.5f, Hidden, Intermediate);
            c.Add(p + "output.dense.bias", 0.1f, Hidden);
            c.AddNorm(p + "output.LayerNorm", Hidden);
        }

        int labels = NumLabels(configExtra);
        switch (architecture)
        {
            case "BertForSequenceClassification":
                c.Add("bert.pooler.dense.weight", 0.5f, Hidden, Hidden);
                c.Add("bert.pooler.dense.bias", 0.1f, Hidden);
                c.Add("classifier.weight", 0.8f, labels, Hidden);
                c.Add("classifier.bias", 0.2f, labels);
                break;
            case "BertForTokenClassification":
                c.Add("classifier.weight", 0.8f, labels, Hidden);
                c.Add("classifier.bias", 0.2f, labels);
                break;
            case "BertForMaskedLM":
                c.Add("cls.predictions.transform.dense.weight", 0.5f, Hidden, Hidden);
                c.Add("cls.predictions.transform.dense.bias", 0.1f, Hidden);
                c.AddNorm("cls.predictions.transform.LayerNorm", Hidden);
                c.Add("cls.predictions.bias", 0.3f, Vocab);
                break;
            default:
                throw new ArgumentException(architecture, nameof(architecture));
        }

        string arch = writeArchitectures ? $"\"architectures\": [\"{architecture}\"],\n  " : "";
        c.Write($$"""
            {
              {{arch}}"model_type": "bert",
              "vocab_size": {{Vocab}},
              "hidden_size": {{Hidden}},
              "num_hidden_layers": {{layers}},
              "num_attention_heads": {{Heads}},
              "intermediate_size": {{Intermediate}},
              "hidden_act": "gelu",
              "max_position_embeddings": {{MaxPositions}},
              "type_vocab_size": {{Types}},
              "layer_norm_eps": 1e-12,
              "hidden_dropout_prob": 0.1,
              "pad_token_id": 0{{(configExtra.Length > 0 ? ",\n  " + configExtra : "")}}
            }
            """);
        return c;
    }

    /// <summary>A batch of two sequences of five tokens, the second padded after three.</summary>
    public static Dictionary<string, HostTensor> Batch(HostTensor labels) => new(StringComparer.Ordinal)
    {
        ["input_ids"] = HostTensor.FromArray(new long[] { 1, 5, 7, 3, 2, 1, 9, 4, 0, 0 }, 2, 5),
        ["attention_mask"] = HostTensor.FromArray(new long[] { 1, 1, 1, 1, 1, 1, 1, 1, 0, 0 }, 2, 5),
        ["token_type_ids"] = HostTensor.FromArray(new long[] { 0, 0, 0, 1, 1, 0, 0, 1, 1, 1 }, 2, 5),
        ["labels"] = labels,
    };

    private static int NumLabels(string extra)
    {
        const string Key = "\"num_labels\": ";
        int at = extra.IndexOf(Key, StringComparison.Ordinal);
        if (at >= 0) return int.Parse(extra.AsSpan(at + Key.Length, 1), CultureInfo.InvariantCulture);
        const string Map = "\"id2label\": {";
        at = extra.IndexOf(Map, StringComparison.Ordinal);
        return at < 0 ? 2 : extra[(at + Map.Length)..extra.IndexOf('}', at)].Count(ch => ch == ':');
    }
}
