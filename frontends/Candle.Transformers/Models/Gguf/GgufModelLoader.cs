using Candle.Runtime.Weights.Gguf;
using Candle.Transformers.Models.Common;
using Candle.Transformers.Models.Llama;

namespace Candle.Transformers.Models.Gguf;

/// <summary>
/// Loads a llama.cpp GGUF file as a model: the config comes from the file's metadata (<see cref="GgufHfConfig"/>) and
/// the weights from <see cref="GgufLlamaCheckpoint"/>, which dequantizes every tensor exactly (q4_0, q8_0, k-quants,
/// f16, ...) to float32 under its Hugging Face name with llama.cpp's Q/K row permutation undone. In a float32 model
/// the block-quantized matrices of linear layers and the embedding stay as stored (memory-mapped) and are multiplied
/// by the quantized kernels; <see cref="ModelLoadOptions.DequantizeWeights"/> dequantizes them instead.
/// </summary>
public static class GgufModelLoader
{
    /// <summary>
    /// True when <paramref name="path"/> is a file named <c>*.gguf</c> or starting with the GGUF magic (a misnamed or
    /// damaged <c>.gguf</c> file then fails in <see cref="Load"/> with a message saying what is wrong with it).
    /// </summary>
    public static bool IsGgufFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Tokenizers.GgufTokenizer.IsGgufFile(path);
    }

    /// <summary>Loads a GGUF file as a causal language model.</summary>
    /// <param name="path">The GGUF file.</param>
    /// <param name="options">Load options (the compute dtype); float32 when null.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="NotSupportedException">The architecture (or its rope scaling) is not supported; the message lists the supported ones.</exception>
    /// <exception cref="GgufFormatException">The file is malformed or lacks a required key; the message names it.</exception>
    /// <exception cref="InvalidDataException">A tensor is missing or mis-shaped for the architecture; the message names it.</exception>
    public static ICausalLanguageModel Load(string path, ModelLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such GGUF file", path);
        options ??= ModelLoadOptions.Default;
        var file = GgufFile.Open(path);
        try
        {
            var config = GgufHfConfig.FromFile(file);
            using var checkpoint = new UnusedTensors(new GgufLlamaCheckpoint(file, ownsFile: false));
            // Quantized matrices view the mapping, which stays alive while they are referenced (disposing the file
            // after it handed out views leaves the mapping to them); every other tensor is a dequantized copy.
            var model = LoadErrors.Named(path, () => new LlamaForCausalLM(config, new CheckpointWeights(checkpoint, options.DType, path) { KeepQuantized = !options.DequantizeWeights, Progress = options.Progress }, options.AllowUnusedTensors));
            checkpoint.Check(path, options.AllowUnusedTensors);
            return model;
        }
        finally
        {
            file.Dispose();
        }
    }
}
