using Candle.Runtime;

namespace Candle.Torch.Nn;

/// <summary>RMS norm over the trailing <see cref="NormalizedShape"/> (torch.nn.RMSNorm, LlamaRMSNorm); weight 1.</summary>
public sealed class RmsNorm : Module<Tensor, Tensor>
{
    /// <summary>Creates the layer over the last dim; a null <paramref name="eps"/> means the dtype's machine epsilon.</summary>
    public RmsNorm(long normalizedShape, double? eps = null, bool elementwiseAffine = true, DType dtype = DType.F32)
        : this([normalizedShape], eps, elementwiseAffine, dtype)
    {
    }

    /// <summary>Creates the layer over the trailing dims.</summary>
    public RmsNorm(long[] normalizedShape, double? eps = null, bool elementwiseAffine = true, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(normalizedShape);
        NormalizedShape = normalizedShape;
        Eps = eps;
        if (elementwiseAffine) Weight = RegisterParameter("weight", Init.Constant(dtype, 1, [.. normalizedShape.Select(d => checked((int)d))]));
    }

    /// <summary>The normalized trailing dims.</summary>
    public IReadOnlyList<long> NormalizedShape { get; }

    /// <summary>Epsilon added to the mean square, or null for the machine epsilon.</summary>
    public double? Eps { get; }

    /// <summary>The scale, or null.</summary>
    public Parameter? Weight { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.RmsNorm(input, [.. NormalizedShape], Weight, Eps);
}
