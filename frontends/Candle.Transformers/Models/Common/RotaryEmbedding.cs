using Candle.Runtime.Tensors;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Common;

/// <summary>
/// Rotary position embedding (transformers' <c>*RotaryEmbedding</c> + <c>apply_rotary_pos_emb</c>): cos and sin of
/// position × inverse frequency, times the attention factor, computed in the graph from the position ids, and applied
/// to the first <see cref="RopeParameters.RotaryDim"/> dims of each head in the rotate_half layout.
/// </summary>
public sealed class RotaryEmbedding : Module
{
    private readonly ModuleBuffer? _longInvFreq;

    /// <summary>Creates the embedding; the frequencies become non-persistent buffers (not read from checkpoints).</summary>
    public RotaryEmbedding(RopeParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Settings = parameters;
        InvFreq = RegisterBuffer("inv_freq", HostTensor.FromArray([.. parameters.InvFreq], parameters.InvFreq.Count), persistent: false);
        if (parameters.LongInvFreq is { } lf)
        {
            _longInvFreq = RegisterBuffer("long_inv_freq", HostTensor.FromArray([.. lf], lf.Count), persistent: false);
        }
    }

    /// <summary>The settings.</summary>
    public RopeParameters Settings { get; }

    /// <summary>The inverse frequencies [rotary_dim / 2].</summary>
    public ModuleBuffer InvFreq { get; }

    /// <summary>
    /// cos and sin for <paramref name="positionIds"/> i64[batch, seq], each [batch, 1, seq, rotary_dim / 2] in
    /// <paramref name="dtype"/>, ready to broadcast over heads.
    /// </summary>
    public (Tensor Cos, Tensor Sin) Forward(Tensor positionIds, Runtime.DType dtype)
    {
        ArgumentNullException.ThrowIfNull(positionIds);
        var pos = positionIds.Float().Unsqueeze(-1);
        var freqs = pos * InvFreq;
        if (_longInvFreq is not null)
        {
            // longrope: the long factors apply once the sequence (largest position + 1) exceeds the original length.
            var isLong = (positionIds.AMax() + 1).Gt(Settings.LongThreshold);
            freqs = Tensor.Where(isLong, pos * _longInvFreq, freqs);
        }

        var cos = freqs.Cos();
        var sin = freqs.Sin();
        if (Settings.AttentionFactor != 1.0)
        {
            cos *= Settings.AttentionFactor;
            sin *= Settings.AttentionFactor;
        }

        return (cos.To(dtype).Unsqueeze(1), sin.To(dtype).Unsqueeze(1));
    }

    /// <summary>Rotates x [batch, heads, seq, head_dim] (partially, when the rotary dim is smaller than the head).</summary>
    public Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        ArgumentNullException.ThrowIfNull(x);
        int rd = Settings.RotaryDim;
        long headDim = x.Size(-1);
        if (rd == headDim) return F.Rope(x, cos, sin);
        var rotated = F.Rope(x.Narrow(-1, 0, rd), cos, sin);
        return Tensors.Cat([rotated, x.Narrow(-1, rd, headDim - rd)], -1);
    }
}
