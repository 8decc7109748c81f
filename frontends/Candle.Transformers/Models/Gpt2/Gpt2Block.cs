using Candle.Torch;
using Candle.Torch.Nn;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Models.Gpt2;

/// <summary>A GPT-2 block: x + attn(ln_1(x)), then h + mlp(ln_2(h)), the MLP being c_fc → activation → c_proj.</summary>
public sealed class Gpt2Block : Module
{
    private readonly Func<Tensor, Tensor> _act;

    /// <summary>Reads block <paramref name="layer"/> under <paramref name="prefix"/>.</summary>
    public Gpt2Block(CheckpointWeights weights, string prefix, Gpt2Config config, int layer)
    {
        ArgumentNullException.ThrowIfNull(config);
        _act = Activations.Get(config.Activation);
        int h = config.HiddenSize;
        Ln1 = RegisterModule("ln_1", new LayerNormLayer(weights, prefix + ".ln_1", h, config.LayerNormEps));
        Attn = RegisterModule("attn", new Gpt2Attention(weights, prefix + ".attn", config, layer));
        Ln2 = RegisterModule("ln_2", new LayerNormLayer(weights, prefix + ".ln_2", h, config.LayerNormEps));
        Mlp = RegisterModule("mlp", new Gpt2Mlp(weights, prefix + ".mlp", h, config.InnerSize));
    }

    /// <summary>The norm before attention.</summary>
    public LayerNormLayer Ln1 { get; }

    /// <summary>Self-attention.</summary>
    public Gpt2Attention Attn { get; }

    /// <summary>The norm before the MLP.</summary>
    public LayerNormLayer Ln2 { get; }

    /// <summary>The MLP's projections.</summary>
    public Gpt2Mlp Mlp { get; }

    /// <summary>Runs the block on [batch, seq, hidden].</summary>
    public Tensor Forward(Tensor x, CacheStep cache)
    {
        var h = x + Attn.Forward(Ln1.Forward(x), cache);
        return h + Mlp.CProj.Forward(_act(Mlp.CFc.Forward(Ln2.Forward(h))));
    }
}
