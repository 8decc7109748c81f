using Candle.Compiler.Ir;

namespace Candle.Torch;

public partial class Tensor
{
    /// <summary>Sum over <paramref name="dims"/> (all when null or empty); integers sum to int64.</summary>
    public Tensor Sum(int[]? dims = null, bool keepDim = false) => Red(Op.Sum, dims, keepDim);

    /// <summary>Sum over one dim.</summary>
    public Tensor Sum(int dim, bool keepDim = false) => Red(Op.Sum, [dim], keepDim);

    /// <summary>Mean over <paramref name="dims"/> (all when null or empty); needs a floating-point tensor.</summary>
    public Tensor Mean(int[]? dims = null, bool keepDim = false) => Red(Op.Mean, dims, keepDim);

    /// <summary>Mean over one dim.</summary>
    public Tensor Mean(int dim, bool keepDim = false) => Red(Op.Mean, [dim], keepDim);

    /// <summary>Product over <paramref name="dims"/> (all when null or empty).</summary>
    public Tensor Prod(int[]? dims = null, bool keepDim = false) => Red(Op.Prod, dims, keepDim);

    /// <summary>Product over one dim.</summary>
    public Tensor Prod(int dim, bool keepDim = false) => Red(Op.Prod, [dim], keepDim);

    /// <summary>The maximum of all elements (0-d).</summary>
    public Tensor Max() => Red(Op.Max, null, false);

    /// <summary>torch.max(x, dim): the maxima along <paramref name="dim"/> and the index of the first maximum.</summary>
    public (Tensor Values, Tensor Indices) Max(int dim, bool keepDim = false) =>
        (Red(Op.Max, [dim], keepDim), ArgMax(dim, keepDim));

    /// <summary>The minimum of all elements (0-d).</summary>
    public Tensor Min() => Red(Op.Min, null, false);

    /// <summary>torch.min(x, dim): the minima along <paramref name="dim"/> and the index of the first minimum.</summary>
    public (Tensor Values, Tensor Indices) Min(int dim, bool keepDim = false) =>
        (Red(Op.Min, [dim], keepDim), ArgMin(dim, keepDim));

    /// <summary>torch.amax: maxima over <paramref name="dims"/> (all when null or empty).</summary>
    public Tensor AMax(int[]? dims = null, bool keepDim = false) => Red(Op.Max, dims, keepDim);

    /// <summary>torch.amin: minima over <paramref name="dims"/> (all when null or empty).</summary>
    public Tensor AMin(int[]? dims = null, bool keepDim = false) => Red(Op.Min, dims, keepDim);

    /// <summary>Index of the first maximum along <paramref name="dim"/>, or in the flattened tensor when null (int64).</summary>
    public Tensor ArgMax(int? dim = null, bool keepDim = false) => W(IrBuilder.ArgReduce(Op.ArgMax, Node, dim, keepDim));

    /// <summary>Index of the first minimum along <paramref name="dim"/>, or in the flattened tensor when null (int64).</summary>
    public Tensor ArgMin(int? dim = null, bool keepDim = false) => W(IrBuilder.ArgReduce(Op.ArgMin, Node, dim, keepDim));

    /// <summary>Inclusive prefix sum along <paramref name="dim"/> (integers accumulate in int64).</summary>
    public Tensor CumSum(int dim) => W(IrBuilder.CumSum(Node, dim));

    /// <summary>
    /// Variance over <paramref name="dims"/> (all when null or empty) with Bessel's <paramref name="correction"/>
    /// (1 = unbiased, as PyTorch's default). The reduced dims must be static.
    /// </summary>
    public Tensor Var(int[]? dims = null, double correction = 1, bool keepDim = false)
    {
        int[] axes = dims is null || dims.Length == 0 ? [.. Enumerable.Range(0, Rank)] : [.. dims.Select(d => Shape.Axis(d, "var"))];
        long n = 1;
        foreach (int a in axes) n *= Shape[a].TryGetConstant() ?? throw IrException.For(Op.Mean, [Node], $"var: reduced dimension {a} must be static");
        var centered = this - Mean(axes, keepDim: true);
        return (centered * centered).Sum(axes, keepDim) / Math.Max(n - correction, 0);
    }

    /// <summary>Standard deviation: √<see cref="Var"/>.</summary>
    public Tensor Std(int[]? dims = null, double correction = 1, bool keepDim = false) => Var(dims, correction, keepDim).Sqrt();

    /// <summary>Softmax along <paramref name="dim"/> (integers promote to float32).</summary>
    public Tensor Softmax(int dim) => W(IrBuilder.Softmax(Node, dim));

    /// <summary>Log-softmax along <paramref name="dim"/>.</summary>
    public Tensor LogSoftmax(int dim) => W(IrBuilder.LogSoftmax(Node, dim));

    /// <summary>torch.matmul: vectors promote to matrices and back, batch dims broadcast.</summary>
    public Tensor MatMul(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Wrap(IrBuilder.MatMul(Node, other.Node), DeviceOf("matmul", this, other));
    }

    private Tensor Red(Op op, int[]? dims, bool keepDim) => W(IrBuilder.Reduce(op, Node, dims, keepDim));
}
