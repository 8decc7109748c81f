using Candle.Runtime;

namespace Candle.Transformers.Models;

/// <summary>How to load a model.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>The dtype the model computes in; f16/bf16 checkpoints are widened when this is f32.</summary>
    public DType DType { get; init; } = DType.F32;

    /// <summary>Default options (float32).</summary>
    public static ModelLoadOptions Default { get; } = new();
}
