using Candle.Runtime;
using Candle.Runtime.Weights;

namespace Candle.Transformers.Models;

/// <summary>How to load a model.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>The dtype the model computes in; f16/bf16 checkpoints are widened when this is f32.</summary>
    public DType DType { get; init; } = DType.F32;

    /// <summary>
    /// Load a checkpoint that has tensors the model does not read (for example more layers than the config declares).
    /// Off by default: such a checkpoint is an error naming the unused tensors, since a config that silently drops part
    /// of a checkpoint computes something else than the checkpoint's model.
    /// </summary>
    public bool AllowUnusedTensors { get; init; }

    /// <summary>
    /// Dequantize every block-quantized GGUF matrix to the model's dtype at load, as before quantized kernels existed
    /// (kept for comparison). Off by default: a float32 model keeps the matrices of its linear layers and embedding
    /// in their stored ggml format and multiplies them with the quantized kernels.
    /// </summary>
    public bool DequantizeWeights { get; init; }

    /// <summary>
    /// The element type of the KV cache of a causal language model (<see cref="Common.CausalLanguageModel.KvCacheDType"/>):
    /// <see cref="DType.F16"/> halves the cache's memory and the bytes attention reads per token, at about three
    /// significant digits per cached key and value. Null keeps the cache in the model's dtype.
    /// </summary>
    public DType? KvCacheDType { get; init; }

    /// <summary>
    /// Receives each checkpoint tensor once the model has read it (its name, the tensors and bytes read so far and the
    /// checkpoint's totals), or each plan of a compiled model; null reports nothing.
    /// </summary>
    public IProgress<LoadProgress>? Progress { get; init; }

    /// <summary>Default options (float32).</summary>
    public static ModelLoadOptions Default { get; } = new();
}
