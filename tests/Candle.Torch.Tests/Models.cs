using Candle.Torch.Nn;

namespace Candle.Torch.Tests;

internal sealed class Mlp : Module<Tensor, Tensor>
{
    public Mlp(int dim, int hidden)
    {
        Fc1 = RegisterModule("fc1", new Linear(dim, hidden));
        Act = RegisterModule("act", new Gelu("tanh"));
        Fc2 = RegisterModule("fc2", new Linear(hidden, dim));
    }

    public Linear Fc1 { get; }

    public Gelu Act { get; }

    public Linear Fc2 { get; }

    public override Tensor Forward(Tensor input) => Fc2.Forward(Act.Forward(Fc1.Forward(input)));
}

/// <summary>Llama-style attention block with grouped query heads.</summary>
internal sealed class SelfAttention : Module<Tensor, Tensor>
{
    private readonly int _heads, _kvHeads, _headDim;

    public SelfAttention(int hidden, int heads, int kvHeads)
    {
        _heads = heads;
        _kvHeads = kvHeads;
        _headDim = hidden / heads;
        QProj = RegisterModule("q_proj", new Linear(hidden, heads * _headDim, bias: false));
        KProj = RegisterModule("k_proj", new Linear(hidden, kvHeads * _headDim, bias: false));
        VProj = RegisterModule("v_proj", new Linear(hidden, kvHeads * _headDim, bias: false));
        OProj = RegisterModule("o_proj", new Linear(heads * _headDim, hidden, bias: false));
    }

    public Linear QProj { get; }

    public Linear KProj { get; }

    public Linear VProj { get; }

    public Linear OProj { get; }

    public override Tensor Forward(Tensor input)
    {
        var (b, s) = (input.Shape[0], input.Shape[1]);
        var q = QProj.Forward(input).View(b, s, _heads, _headDim).Transpose(1, 2);
        var k = KProj.Forward(input).View(b, s, _kvHeads, _headDim).Transpose(1, 2);
        var v = VProj.Forward(input).View(b, s, -1, _headDim).Transpose(1, 2);
        var o = F.ScaledDotProductAttention(q, k, v, isCausal: true, enableGqa: true);
        return OProj.Forward(o.Transpose(1, 2).Reshape(b, s, -1));
    }
}

internal sealed class DecoderLayer : Module<Tensor, Tensor>
{
    public DecoderLayer(int hidden)
    {
        SelfAttn = RegisterModule("self_attn", new SelfAttention(hidden, 4, 2));
        Norm = RegisterModule("input_layernorm", new RmsNorm(hidden, 1e-5));
        Mlp = RegisterModule("mlp", new Mlp(hidden, 2 * hidden));
    }

    public SelfAttention SelfAttn { get; }

    public RmsNorm Norm { get; }

    public Mlp Mlp { get; }

    public override Tensor Forward(Tensor input)
    {
        var h = input + SelfAttn.Forward(Norm.Forward(input));
        return h + Mlp.Forward(h);
    }
}

internal sealed class TinyModel : Module<Tensor, Tensor>
{
    public TinyModel(int vocab, int hidden, int layers)
    {
        EmbedTokens = RegisterModule("embed_tokens", new Embedding(vocab, hidden));
        Layers = RegisterModule("layers", new ModuleList<DecoderLayer>(Enumerable.Range(0, layers).Select(_ => new DecoderLayer(hidden))));
        Norm = RegisterModule("norm", new LayerNorm(hidden));
        RegisterBuffer("inv_freq", Tensors.Arange(4).Float().ToHostTensor(), persistent: false);
    }

    public Embedding EmbedTokens { get; }

    public ModuleList<DecoderLayer> Layers { get; }

    public LayerNorm Norm { get; }

    public override Tensor Forward(Tensor input)
    {
        var h = EmbedTokens.Forward(input);
        foreach (var l in Layers) h = l.Forward(h);
        return Norm.Forward(h);
    }
}
