using Candle.Runtime;

namespace Candle.Torch.Nn;

/// <summary>Layer norm over the trailing <see cref="NormalizedShape"/> (torch.nn.LayerNorm); weight 1, bias 0.</summary>
public sealed class LayerNorm : Module<Tensor, Tensor>
{
    /// <summary>Creates the layer over the last dim of size <paramref name="normalizedShape"/>.</summary>
    public LayerNorm(long normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, bool bias = true, DType dtype = DType.F32)
        : this([normalizedShape], eps, elementwiseAffine, bias, dtype)
    {
    }

    /// <summary>Creates the layer over the trailing dims <paramref name="normalizedShape"/>.</summary>
    public LayerNorm(long[] normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, bool bias = true, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(normalizedShape);
        NormalizedShape = normalizedShape;
        Eps = eps;
        int[] shape = [.. normalizedShape.Select(d => checked((int)d))];
        if (elementwiseAffine)
        {
            Weight = RegisterParameter("weight", Init.Constant(dtype, 1, shape));
            if (bias) Bias = RegisterParameter("bias", Init.Constant(dtype, 0, shape));
        }
    }

    /// <summary>The normalized trailing dims.</summary>
    public IReadOnlyList<long> NormalizedShape { get; }

    /// <summary>Epsilon added to the variance.</summary>
    public double Eps { get; }

    /// <summary>The scale, or null.</summary>
    public Parameter? Weight { get; }

    /// <summary>The shift, or null.</summary>
    public Parameter? Bias { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.LayerNorm(input, [.. NormalizedShape], Weight, Bias, Eps);
}
