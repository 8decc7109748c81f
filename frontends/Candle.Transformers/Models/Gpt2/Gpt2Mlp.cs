using Candle.Torch.Nn;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Models.Gpt2;

/// <summary>The projections of GPT-2's MLP, both Conv1D (weights stored [in, out]).</summary>
public sealed class Gpt2Mlp : Module
{
    /// <summary>Reads <c>c_fc</c> and <c>c_proj</c> under <paramref name="prefix"/>.</summary>
    public Gpt2Mlp(CheckpointWeights weights, string prefix, int hidden, int inner)
    {
        CFc = RegisterModule("c_fc", new LinearLayer(weights, prefix + ".c_fc", hidden, inner, bias: true, transposed: true));
        CProj = RegisterModule("c_proj", new LinearLayer(weights, prefix + ".c_proj", inner, hidden, bias: true, transposed: true));
    }

    /// <summary>The up projection.</summary>
    public LinearLayer CFc { get; }

    /// <summary>The down projection.</summary>
    public LinearLayer CProj { get; }
}
