using System.Text.Json;
using System.Text.Json.Serialization;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Weights;
using Candle.Transformers.Tokenizers;

namespace Candle.Transformers.Generation;

/// <summary>
/// A causal LM compiled ahead of deployment: a directory holding the prefill and decode plans (each with its weights),
/// <c>candle-model.json</c> (the cache shape, vocabulary, positions and stop tokens), the model's <c>config.json</c> and
/// its tokenizer, chat template and generation files as the Hugging Face directory had them. <c>candle compile</c>
/// writes it (in C#, Candle.Transformers' <c>CompiledLanguageModel.Save</c>). Loading it compiles nothing: the plans run
/// as saved (<see cref="Plan.Load(string)"/>), so the first token comes without the trace, pipeline and lowering of
/// compiling from the checkpoint, and a program that only loads compiled models needs Candle.Runtime and this package,
/// not the compiler.
/// </summary>
public static class CompiledLanguageModel
{
    /// <summary>The manifest file that marks a compiled model directory.</summary>
    public const string ManifestFile = "candle-model.json";

    internal const string Format = "candle-compiled-causal-lm/1";
    internal const string PrefillFile = "prefill.plan";
    internal const string DecodeFile = "decode.plan";

    /// <summary>The files of the Hugging Face directory a compiled model keeps (tokenizer, templates, generation config).</summary>
    internal static readonly string[] CopiedFiles =
    [
        "config.json", "generation_config.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json", "vocab.json",
        "merges.txt", "vocab.txt", "special_tokens_map.json", "added_tokens.json", "chat_template.jinja", "chat_template.json",
    ];

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>True when <paramref name="directory"/> is a compiled model directory (it holds <see cref="ManifestFile"/>).</summary>
    public static bool IsCompiled(string directory) => Directory.Exists(directory) && File.Exists(Path.Combine(directory, ManifestFile));

    /// <summary>Loads a compiled model directory: its plans as saved, its tokenizer when it has one.</summary>
    /// <param name="directory">The directory <c>candle compile</c> wrote.</param>
    /// <param name="progress">Receives each plan file once it is loaded (its bytes and the running totals); null for none.</param>
    /// <exception cref="PlanFormatException">A plan file is damaged or fails verification.</exception>
    /// <exception cref="InvalidDataException">The manifest is missing, malformed or of another format.</exception>
    public static TextGenerator Load(string directory, IProgress<LoadProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string path = Path.Combine(directory, ManifestFile);
        if (!File.Exists(path)) throw new InvalidDataException($"{directory}: not a compiled model directory (no {ManifestFile}; write one with candle compile)");
        Manifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<Manifest>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path}: empty");
        }
        catch (JsonException e)
        {
            // System.Text.Json names the record type it could not fill; say which key holds the bad value instead.
            string what = e.Message.Contains("could not be converted", StringComparison.Ordinal) && e.Path is { Length: > 2 } key
                ? $"the value of {key[2..]} is not valid for that key (line {e.LineNumber + 1})"
                : e.Message;
            throw new InvalidDataException($"{path}: {what}", e);
        }

        var shape = manifest.Validate(path);
        string prefillPath = Path.Combine(directory, PrefillFile), decodePath = Path.Combine(directory, DecodeFile);
        long total = Length(prefillPath) + Length(decodePath);
        var prefill = Plan.Load(prefillPath);
        try
        {
            progress?.Report(new LoadProgress(PrefillFile, 1, 2, Length(prefillPath), total));
            var decode = Plan.Load(decodePath);
            progress?.Report(new LoadProgress(DecodeFile, 2, 2, total, total));
            return new TextGenerator(new DecoderSession(shape, prefill, decode), TokenizerLoader.TryLoad(directory));
        }
        catch
        {
            prefill.Dispose();
            throw;
        }
    }

    /// <summary>Writes the manifest of a compiled model with <paramref name="shape"/> into <paramref name="directory"/>.</summary>
    internal static void WriteManifest(string directory, DecoderShape shape)
    {
        var manifest = new Manifest(Format, shape.ModelType, shape.NumLayers, shape.NumKvHeads, shape.HeadDim, shape.VocabSize, shape.MaxPositions, shape.DType, [.. shape.EosTokenIds]);
        File.WriteAllText(Path.Combine(directory, ManifestFile), JsonSerializer.Serialize(manifest, Json));
    }

    private static long Length(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;

    /// <summary>What <c>candle-model.json</c> records.</summary>
    internal sealed record Manifest(
        string Format,
        string ModelType,
        int NumLayers,
        int NumKvHeads,
        int HeadDim,
        int VocabSize,
        int MaxPositions,
        [property: JsonConverter(typeof(JsonStringEnumConverter<DType>))] DType DType,
        int[] EosTokenIds)
    {
        public DecoderShape Validate(string path)
        {
            if (Format != CompiledLanguageModel.Format) throw new InvalidDataException($"{path}: format '{Format}' is not '{CompiledLanguageModel.Format}'");
            var shape = new DecoderShape(ModelType ?? throw new InvalidDataException($"{path}: model_type is missing"), NumLayers, NumKvHeads, HeadDim, VocabSize, MaxPositions, DType, EosTokenIds!);
            shape.Validate(path);
            return shape;
        }
    }
}
