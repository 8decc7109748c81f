using Candle.Runtime;

namespace Candle.Torch.Nn;

/// <summary>Group norm of [N, C, ...] (torch.nn.GroupNorm); weight 1, bias 0.</summary>
public sealed class GroupNorm : Module<Tensor, Tensor>
{
    /// <summary>Creates the layer.</summary>
    public GroupNorm(int numGroups, long numChannels, double eps = 1e-5, bool affine = true, DType dtype = DType.F32)
    {
        if (numGroups < 1 || numChannels % numGroups != 0)
        {
            throw new ArgumentException($"GroupNorm: {numChannels} channels are not divisible into {numGroups} groups", nameof(numGroups));
        }

        NumGroups = numGroups;
        NumChannels = numChannels;
        Eps = eps;
        if (affine)
        {
            Weight = RegisterParameter("weight", Init.Constant(dtype, 1, checked((int)numChannels)));
            Bias = RegisterParameter("bias", Init.Constant(dtype, 0, checked((int)numChannels)));
        }
    }

    /// <summary>Groups.</summary>
    public int NumGroups { get; }

    /// <summary>Channels.</summary>
    public long NumChannels { get; }

    /// <summary>Epsilon added to the variance.</summary>
    public double Eps { get; }

    /// <summary>The per-channel scale, or null.</summary>
    public Parameter? Weight { get; }

    /// <summary>The per-channel shift, or null.</summary>
    public Parameter? Bias { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.GroupNorm(input, NumGroups, Weight, Bias, Eps);
}
