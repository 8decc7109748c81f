using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Autodiff;

/// <summary>The training losses as IR builders, with PyTorch's definitions (mean reduction).</summary>
public static class Losses
{
    /// <summary>PyTorch's default ignored label.</summary>
    public const long IgnoreIndex = -100;

    /// <summary>
    /// torch.nn.functional.cross_entropy of <paramref name="logits"/> [N, C] against integer
    /// <paramref name="labels"/> [N]: the mean over the labels not equal to <paramref name="ignoreIndex"/> of
    /// −log_softmax(logits)[label] (NaN when every label is ignored, as PyTorch).
    /// </summary>
    /// <exception cref="IrException">The shapes or dtypes do not fit.</exception>
    public static Node CrossEntropy(Node logits, Node labels, long ignoreIndex = IgnoreIndex)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        if (logits.Shape.Rank != 2 || labels.Shape.Rank != 1 || labels.DType.IsFloat())
        {
            throw IrException.For(Op.Gather, [logits, labels], $"cross_entropy expects logits [N, C] and integer labels [N], got {logits.TypeString} and {labels.TypeString}");
        }

        var logProbs = LogSoftmax(logits, 1);
        var valid = Binary(Op.Ne, labels, Scalar(ignoreIndex, labels.DType));
        var safe = Where(valid, labels, Scalar(0, labels.DType));
        var picked = Reshape(Gather(logProbs, 1, Unsqueeze(Cast(safe, DType.I64), 1)), new Shape(labels.Shape[0]));
        var weight = Cast(valid, logProbs.DType);
        var total = Reduce(Op.Sum, Binary(Op.Mul, picked, weight));
        return Unary(Op.Neg, Binary(Op.Div, total, Reduce(Op.Sum, weight)));
    }

    /// <summary>
    /// transformers' causal language-model loss: logits [B, S, V] at position t predict <paramref name="labels"/>
    /// [B, S] at t + 1; cross-entropy over the B·(S−1) shifted pairs, ignoring −100.
    /// </summary>
    /// <remarks>
    /// The labels are shifted left and padded with <paramref name="ignoreIndex"/> at each sequence's last position
    /// rather than the logits sliced: every position's logits take part as they are laid out (a view, no copy of
    /// [B, S−1, V] in the forward and no slice_scatter of its gradient into zeros in the backward), and the last
    /// position, ignored, adds nothing to the loss and receives a zero gradient.
    /// </remarks>
    public static Node CausalLm(Node logits, Node labels, long ignoreIndex = IgnoreIndex)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        if (logits.Shape.Rank != 3 || labels.Shape.Rank != 2)
        {
            throw IrException.For(Op.Gather, [logits, labels], $"the causal LM loss expects logits [B, S, V] and labels [B, S], got {logits.TypeString} and {labels.TypeString}");
        }

        var shiftedLabels = Pad(SliceAxis(labels, 1, 1, null), [0, 1], ignoreIndex);
        var vocab = logits.Shape[2];
        var rows = logits.Shape[0] * logits.Shape[1];
        return CrossEntropy(Reshape(logits, new Shape(rows, vocab)), Reshape(shiftedLabels, new Shape(rows)), ignoreIndex);
    }

    /// <summary>
    /// torch.nn.functional.binary_cross_entropy_with_logits with mean reduction: the mean over every element of
    /// −[y·log σ(x) + (1 − y)·log(1 − σ(x))], computed as softplus(x) − x·y (the same value, stable for large |x|).
    /// </summary>
    /// <exception cref="IrException">The logits are not floating-point or the targets' shape differs from theirs.</exception>
    public static Node BinaryCrossEntropyWithLogits(Node logits, Node targets)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(targets);
        if (!logits.DType.IsFloat() || !logits.Shape.Equals(targets.Shape))
        {
            throw IrException.For(Op.Softplus, [logits, targets], $"binary_cross_entropy_with_logits expects float logits and targets of one shape, got {logits.TypeString} and {targets.TypeString}");
        }

        var y = Cast(targets, logits.DType);
        return Reduce(Op.Mean, Binary(Op.Sub, Unary(Op.Softplus, logits), Binary(Op.Mul, logits, y)));
    }

    /// <summary>torch.nn.functional.mse_loss: the mean of (a − b)² (broadcasting as the builder does).</summary>
    public static Node Mse(Node input, Node target)
    {
        var d = Binary(Op.Sub, input, target);
        return Reduce(Op.Mean, Binary(Op.Mul, d, d));
    }
}
