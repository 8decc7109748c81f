using System.Text.Json;
using System.Text.Json.Serialization;
using Candle.Compiler.Backends;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Transformers.Models;
using Candle.Transformers.Tokenizers;

namespace Candle.Transformers.Generation;

/// <summary>
/// A causal LM compiled ahead of deployment: a directory holding the prefill and decode plans (each with its weights),
/// <c>candle-model.json</c> (the cache shape, vocabulary, positions and stop tokens), the model's <c>config.json</c> and
/// its tokenizer, chat template and generation files as the Hugging Face directory had them. Loading it compiles
/// nothing: the plans run as saved (<see cref="Plan.Load(string)"/>), so the first token comes without the trace,
/// pipeline and lowering of <see cref="TextGenerator.Load(string, string, ModelLoadOptions?, CompileOptions?)"/>.
/// </summary>
public static class CompiledLanguageModel
{
    /// <summary>The manifest file that marks a compiled model directory.</summary>
    public const string ManifestFile = "candle-model.json";

    private const string Format = "candle-compiled-causal-lm/1";
    private const string PrefillFile = "prefill.plan";
    private const string DecodeFile = "decode.plan";

    private static readonly string[] CopiedFiles =
    [
        "config.json", "generation_config.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json", "vocab.json",
        "merges.txt", "vocab.txt", "special_tokens_map.json", "added_tokens.json", "chat_template.jinja", "chat_template.json",
    ];

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>True when <paramref name="directory"/> is a compiled model directory (it holds <see cref="ManifestFile"/>).</summary>
    public static bool IsCompiled(string directory) => Directory.Exists(directory) && File.Exists(Path.Combine(directory, ManifestFile));

    /// <summary>
    /// Loads the Hugging Face causal LM in <paramref name="modelDirectory"/>, compiles its prefill and decode steps for
    /// the CPU (<see cref="CompileOptions.Backend"/> when it is a CPU backend, e.g. one without generated code) and
    /// writes them, with the files a deployment needs, to <paramref name="outputDirectory"/>.
    /// </summary>
    /// <exception cref="NotSupportedException">The model is not a causal LM, or is not a Hugging Face directory.</exception>
    public static void Save(string modelDirectory, string outputDirectory, CompileOptions? compileOptions = null, ModelLoadOptions? loadOptions = null)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        ArgumentNullException.ThrowIfNull(outputDirectory);
        if (!Directory.Exists(modelDirectory)) throw new NotSupportedException($"{modelDirectory}: a compiled model is made from a Hugging Face model directory");
        using var generator = TextGenerator.Load(modelDirectory, compileOptions?.Backend ?? BackendRegistry.Get("cpu"), loadOptions, compileOptions);
        if (generator.Session.PrefillPlan is not Plan prefill || generator.Session.DecodePlan is not Plan decode)
        {
            throw new NotSupportedException("the CPU backend did not produce savable plans");
        }

        Directory.CreateDirectory(outputDirectory);
        prefill.Save(Path.Combine(outputDirectory, PrefillFile));
        decode.Save(Path.Combine(outputDirectory, DecodeFile));
        foreach (string f in CopiedFiles)
        {
            string from = Path.Combine(modelDirectory, f);
            if (File.Exists(from)) File.Copy(from, Path.Combine(outputDirectory, f), overwrite: true);
        }

        var m = generator.Model;
        var manifest = new Manifest(Format, m.ModelType, m.NumLayers, m.NumKvHeads, m.HeadDim, m.VocabSize, m.MaxPositions, m.DType, [.. m.EosTokenIds]);
        File.WriteAllText(Path.Combine(outputDirectory, ManifestFile), JsonSerializer.Serialize(manifest, Json));
    }

    /// <summary>Loads a directory written by <see cref="Save"/>: its plans as saved, its tokenizer when it has one.</summary>
    /// <exception cref="PlanFormatException">A plan file is damaged or fails verification.</exception>
    /// <exception cref="InvalidDataException">The manifest is missing, malformed or of another format.</exception>
    public static TextGenerator Load(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string path = Path.Combine(directory, ManifestFile);
        Manifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<Manifest>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path}: empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }

        manifest.Validate(path);
        var config = HfConfig.Load(directory);
        var model = new CompiledCausalModel(config, manifest);
        var prefill = Plan.Load(Path.Combine(directory, PrefillFile));
        try
        {
            var decode = Plan.Load(Path.Combine(directory, DecodeFile));
            var session = new DecoderSession(model, BackendRegistry.Get("cpu"), prefill, decode);
            return new TextGenerator(session, TokenizerLoader.TryLoad(directory));
        }
        catch
        {
            prefill.Dispose();
            throw;
        }
    }

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
        public void Validate(string path)
        {
            if (Format != CompiledLanguageModel.Format) throw new InvalidDataException($"{path}: format '{Format}' is not '{CompiledLanguageModel.Format}'");
            if (NumLayers is < 1 or > 1024 || NumKvHeads < 1 || HeadDim < 1 || VocabSize < 1 || MaxPositions < 1)
            {
                throw new InvalidDataException($"{path}: sizes must be positive (num_layers ≤ 1024): {this}");
            }

            if (EosTokenIds is null || EosTokenIds.Any(t => t < 0 || t >= VocabSize)) throw new InvalidDataException($"{path}: eos_token_ids must lie in the vocabulary [0, {VocabSize})");
        }
    }
}
