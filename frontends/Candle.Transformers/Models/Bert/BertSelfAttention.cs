using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Bert;

/// <summary>Multi-head self-attention with query, key and value projections (transformers' BertSelfAttention).</summary>
public sealed class BertSelfAttention : Module
{
    private readonly int _heads;
    private readonly int _headDim;
    private readonly string _implementation;

    /// <summary>Creates the layer; <paramref name="implementation"/> is an <see cref="AttentionImplementation"/> name.</summary>
    public BertSelfAttention(int hiddenSize, int heads, bool bias = true, DType dtype = DType.F32, string implementation = AttentionImplementation.Sdpa)
    {
        _heads = heads;
        _implementation = implementation;
        _headDim = hiddenSize / heads;
        Query = RegisterModule("query", new Linear(hiddenSize, hiddenSize, bias, dtype));
        Key = RegisterModule("key", new Linear(hiddenSize, hiddenSize, bias, dtype));
        Value = RegisterModule("value", new Linear(hiddenSize, hiddenSize, bias, dtype));
    }

    /// <summary>query.</summary>
    public Linear Query { get; }

    /// <summary>key.</summary>
    public Linear Key { get; }

    /// <summary>value.</summary>
    public Linear Value { get; }

    /// <summary>Attends [batch, seq, hidden] to itself; <paramref name="bias"/> is an additive mask broadcastable to [batch, heads, seq, seq].</summary>
    public Tensor Forward(Tensor hidden, Tensor? bias)
    {
        var q = Heads.Split(Query.Forward(hidden), _heads, _headDim);
        var k = Heads.Split(Key.Forward(hidden), _heads, _headDim);
        var v = Heads.Split(Value.Forward(hidden), _heads, _headDim);
        return Heads.Merge(AttentionImplementation.Apply(_implementation, q, k, v, bias));
    }
}
