using Candle.Torch;

namespace Candle.Transformers.Models.Bert;

/// <summary>
/// How attention is expressed in the traced graph, as transformers' <c>attn_implementation</c>: <c>sdpa</c> emits
/// one attention op that a backend may run as a fused kernel; <c>eager</c> emits q·kᵀ·scale + mask, softmax, ·v
/// as separate matrix products (useful where a backend's matrix multiply outruns its attention kernel).
/// </summary>
public static class AttentionImplementation
{
    /// <summary>One scaled-dot-product attention op.</summary>
    public const string Sdpa = "sdpa";

    /// <summary>Explicit matrix products and softmax.</summary>
    public const string Eager = "eager";

    /// <summary>Attention of q [batch, heads, seq, head_dim] to k, v [batch, heads, kv_seq, head_dim] with an optional additive bias.</summary>
    /// <exception cref="NotSupportedException">The implementation name is unknown.</exception>
    public static Tensor Apply(string implementation, Tensor q, Tensor k, Tensor v, Tensor? bias)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(v);
        switch (implementation)
        {
            case Sdpa:
                return F.ScaledDotProductAttention(q, k, v, bias);
            case Eager:
                var scores = Tensors.MatMul(q, k.Transpose(-2, -1)) * (1.0 / Math.Sqrt(q.Size(-1)));
                if (bias is not null) scores = scores + bias;
                return Tensors.MatMul(scores.Softmax(-1), v);
            default:
                throw new NotSupportedException($"attention implementation '{implementation}' is not supported; supported: {Sdpa}, {Eager}");
        }
    }
}
