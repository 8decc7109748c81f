using Candle.Runtime;

namespace Candle.Torch.Nn;

/// <summary>1-d convolution (torch.nn.Conv1d): weight [out, in/groups, k]; initialized U(−1/√fanIn, 1/√fanIn).</summary>
public sealed class Conv1d : Module<Tensor, Tensor>
{
    /// <summary>Creates the layer.</summary>
    public Conv1d(long inChannels, long outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1, int groups = 1, bool bias = true, DType dtype = DType.F32)
    {
        ConvChecks.Channels("Conv1d", inChannels, outChannels, groups);
        Stride = stride;
        Padding = padding;
        Dilation = dilation;
        Groups = groups;
        long fanIn = inChannels / groups * kernelSize;
        Weight = RegisterParameter("weight", Init.FanInUniform(dtype, fanIn, checked((int)outChannels), checked((int)(inChannels / groups)), kernelSize));
        if (bias) Bias = RegisterParameter("bias", Init.FanInUniform(dtype, fanIn, checked((int)outChannels)));
    }

    /// <summary>Stride.</summary>
    public int Stride { get; }

    /// <summary>Zero padding on both sides.</summary>
    public int Padding { get; }

    /// <summary>Dilation.</summary>
    public int Dilation { get; }

    /// <summary>Groups.</summary>
    public int Groups { get; }

    /// <summary>The kernel [out, in/groups, k].</summary>
    public Parameter Weight { get; }

    /// <summary>The bias [out], or null.</summary>
    public Parameter? Bias { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.Conv1d(input, Weight, Bias, Stride, Padding, Dilation, Groups);
}
