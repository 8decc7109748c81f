using Candle.Runtime;

namespace Candle.Torch.Nn;

/// <summary>1-d transposed convolution (torch.nn.ConvTranspose1d): weight [in, out/groups, k].</summary>
public sealed class ConvTranspose1d : Module<Tensor, Tensor>
{
    /// <summary>Creates the layer.</summary>
    public ConvTranspose1d(long inChannels, long outChannels, int kernelSize, int stride = 1, int padding = 0, int outputPadding = 0, int groups = 1, bool bias = true, int dilation = 1, DType dtype = DType.F32)
    {
        ConvChecks.Channels("ConvTranspose1d", inChannels, outChannels, groups);
        Stride = stride;
        Padding = padding;
        OutputPadding = outputPadding;
        Dilation = dilation;
        Groups = groups;
        long fanIn = outChannels / groups * kernelSize;
        Weight = RegisterParameter("weight", Init.FanInUniform(dtype, fanIn, checked((int)inChannels), checked((int)(outChannels / groups)), kernelSize));
        if (bias) Bias = RegisterParameter("bias", Init.FanInUniform(dtype, fanIn, checked((int)outChannels)));
    }

    /// <summary>Stride.</summary>
    public int Stride { get; }

    /// <summary>Padding removed from both sides of the output.</summary>
    public int Padding { get; }

    /// <summary>Extra size added to one side of the output.</summary>
    public int OutputPadding { get; }

    /// <summary>Dilation.</summary>
    public int Dilation { get; }

    /// <summary>Groups.</summary>
    public int Groups { get; }

    /// <summary>The kernel [in, out/groups, k].</summary>
    public Parameter Weight { get; }

    /// <summary>The bias [out], or null.</summary>
    public Parameter? Bias { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.ConvTranspose1d(input, Weight, Bias, Stride, Padding, OutputPadding, Groups, Dilation);
}
