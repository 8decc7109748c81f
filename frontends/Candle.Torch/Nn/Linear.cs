using Candle.Runtime;

namespace Candle.Torch.Nn;

/// <summary>y = x·Wᵀ + b with weight [out, in] (torch.nn.Linear); initialized U(−1/√in, 1/√in) from <see cref="Init"/>.</summary>
public sealed class Linear : Module<Tensor, Tensor>
{
    /// <summary>Creates the layer.</summary>
    public Linear(long inFeatures, long outFeatures, bool bias = true, DType dtype = DType.F32)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegative(outFeatures);
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = RegisterParameter("weight", Init.FanInUniform(dtype, inFeatures, checked((int)outFeatures), checked((int)inFeatures)));
        if (bias) Bias = RegisterParameter("bias", Init.FanInUniform(dtype, inFeatures, checked((int)outFeatures)));
    }

    /// <summary>Input features.</summary>
    public long InFeatures { get; }

    /// <summary>Output features.</summary>
    public long OutFeatures { get; }

    /// <summary>The weight [out, in].</summary>
    public Parameter Weight { get; }

    /// <summary>The bias [out], or null.</summary>
    public Parameter? Bias { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.Linear(input, Weight, Bias);
}
