using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;
using Candle.Transformers.Models.Bert;

namespace Candle.Transformers.Models.Whisper;

/// <summary>
/// Multi-head attention with q/k/v/out projections, the key projection without bias (transformers'
/// WhisperAttention). Keys and values are exposed separately so that decoding can cache them.
/// </summary>
public sealed class WhisperAttention : Module
{
    private readonly int _heads;
    private readonly int _headDim;

    /// <summary>Creates the layer.</summary>
    public WhisperAttention(int embedDim, int heads, DType dtype = DType.F32)
    {
        _heads = heads;
        _headDim = embedDim / heads;
        KProj = RegisterModule("k_proj", new Linear(embedDim, embedDim, false, dtype));
        VProj = RegisterModule("v_proj", new Linear(embedDim, embedDim, true, dtype));
        QProj = RegisterModule("q_proj", new Linear(embedDim, embedDim, true, dtype));
        OutProj = RegisterModule("out_proj", new Linear(embedDim, embedDim, true, dtype));
    }

    /// <summary>k_proj (no bias).</summary>
    public Linear KProj { get; }

    /// <summary>v_proj.</summary>
    public Linear VProj { get; }

    /// <summary>q_proj.</summary>
    public Linear QProj { get; }

    /// <summary>out_proj.</summary>
    public Linear OutProj { get; }

    /// <summary>Number of heads.</summary>
    public int NumHeads => _heads;

    /// <summary>Width of one head.</summary>
    public int HeadDim => _headDim;

    /// <summary>Keys and values of [batch, seq, embed] states, each [batch, heads, seq, head_dim].</summary>
    public (Tensor Keys, Tensor Values) KeyValue(Tensor states) =>
        (Heads.Split(KProj.Forward(states), _heads, _headDim), Heads.Split(VProj.Forward(states), _heads, _headDim));

    /// <summary>
    /// Attends [batch, seq, embed] queries to keys and values [batch, heads, kv_seq, head_dim]; with
    /// <paramref name="causal"/> query i sees keys up to i + kv_seq − seq (the cached prefix and itself).
    /// </summary>
    public Tensor Attend(Tensor hidden, Tensor keys, Tensor values, bool causal)
    {
        var q = Heads.Split(QProj.Forward(hidden), _heads, _headDim);
        return OutProj.Forward(Heads.Merge(F.ScaledDotProductAttention(q, keys, values, isCausal: causal)));
    }

    /// <summary>Unmasked self-attention of [batch, seq, embed].</summary>
    public Tensor SelfAttend(Tensor hidden)
    {
        var (k, v) = KeyValue(hidden);
        return Attend(hidden, k, v, causal: false);
    }
}
