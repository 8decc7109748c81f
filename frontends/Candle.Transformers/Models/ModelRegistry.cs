using Candle.Runtime;
using Candle.Runtime.Weights.SafeTensors;

namespace Candle.Transformers.Models;

/// <summary>Builds a model from its config and weights.</summary>
public delegate IPretrainedModel ModelFactory(HfConfig config, ISafeTensorsSource weights, ModelLoadOptions options);

/// <summary>
/// Maps <c>model_type</c> to model builders and loads Hugging Face directories. The built-in architectures
/// register in <see cref="BuiltInModels"/>; users may register their own.
/// </summary>
public static class ModelRegistry
{
    private static readonly Dictionary<string, ModelFactory> Factories = new(StringComparer.Ordinal);
    private static readonly Lock Gate = new();

    static ModelRegistry() => BuiltInModels.RegisterAll();

    /// <summary>The registered model types, sorted.</summary>
    public static IReadOnlyList<string> SupportedModelTypes
    {
        get
        {
            lock (Gate) return [.. Factories.Keys.Order(StringComparer.Ordinal)];
        }
    }

    /// <summary>Registers (or replaces) the builder of a model type.</summary>
    public static void Register(string modelType, ModelFactory factory)
    {
        lock (Gate) Factories[modelType] = factory;
    }

    /// <summary>
    /// Loads a model directory (config.json plus single or sharded safetensors) or a llama.cpp GGUF file
    /// (see <see cref="Gguf.GgufModelLoader"/>).
    /// </summary>
    /// <exception cref="NotSupportedException">The model_type (or GGUF architecture) is unknown; the message lists the supported ones.</exception>
    /// <exception cref="InvalidDataException">
    /// The config is invalid or does not match the checkpoint (a tensor missing or mis-shaped, a layer count that differs,
    /// tensors the model does not read unless <see cref="ModelLoadOptions.AllowUnusedTensors"/>); the message names the
    /// file and the key or tensor.
    /// </exception>
    public static IPretrainedModel Load(string directory, ModelLoadOptions? options = null)
    {
        if (Gguf.GgufModelLoader.IsGgufFile(directory)) return WithCacheDType(Gguf.GgufModelLoader.Load(directory, options), options);
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"{directory}: no such model directory");
        var config = HfConfig.Load(directory);
        string type = config.ModelType;
        ModelFactory? factory;
        lock (Gate) Factories.TryGetValue(type, out factory);
        if (factory is null)
        {
            throw new NotSupportedException(
                $"{config.Path}: model_type '{type}' is not supported; supported: {string.Join(", ", SupportedModelTypes)}");
        }

        options ??= ModelLoadOptions.Default;
        var weights = new Common.UnusedTensors(SafeTensorsCheckpoint.Open(directory));
        var model = LoadErrors.Named(config.Path, () => factory(config, weights, options));
        weights.Check(directory, options.AllowUnusedTensors);
        return WithCacheDType(model, options);
    }

    /// <summary>Applies <see cref="ModelLoadOptions.KvCacheDType"/> to a causal language model.</summary>
    /// <exception cref="NotSupportedException">A KV cache dtype was asked of a model without a KV cache.</exception>
    private static IPretrainedModel WithCacheDType(IPretrainedModel model, ModelLoadOptions? options)
    {
        if (options?.KvCacheDType is not { } kv) return model;
        if (model is not Common.CausalLanguageModel lm)
        {
            throw new NotSupportedException($"model_type '{model.ModelType}' has no KV cache whose dtype could be {kv.TorchName()}");
        }

        lm.KvCacheDType = kv;
        return model;
    }
}
