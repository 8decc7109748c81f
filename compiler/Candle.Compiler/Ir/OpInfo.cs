namespace Candle.Compiler.Ir;

/// <summary>Groups of <see cref="Op"/> that rules and backends match on.</summary>
public static class OpInfo
{
    /// <summary>Input, Constant, Full, Arange.</summary>
    public static bool IsLeaf(this Op op) => op is Op.Input or Op.Constant or Op.Full or Op.Arange;

    /// <summary>One-input elementwise ops, Cast included.</summary>
    public static bool IsUnary(this Op op) => op is >= Op.Neg and <= Op.Cast;

    /// <summary>Two-input elementwise ops.</summary>
    public static bool IsBinary(this Op op) => op is >= Op.Add and <= Op.LogicalOr;

    /// <summary>Comparisons producing bool.</summary>
    public static bool IsComparison(this Op op) => op is >= Op.Eq and <= Op.Ge;

    /// <summary>Unary, binary and where: output element i depends only on input elements i.</summary>
    public static bool IsElementwise(this Op op) => op.IsUnary() || op.IsBinary() || op == Op.Where;

    /// <summary>a op b == b op a.</summary>
    public static bool IsCommutative(this Op op) =>
        op is Op.Add or Op.Mul or Op.Maximum or Op.Minimum or Op.Eq or Op.Ne or Op.LogicalAnd or Op.LogicalOr;

    /// <summary>Reductions over axes (with ReduceAttrs).</summary>
    public static bool IsReduce(this Op op) => op is >= Op.Sum and <= Op.ArgMin;

    /// <summary>Movement ops that are views of their first input.</summary>
    public static bool IsView(this Op op) => op is Op.Reshape or Op.Permute or Op.Expand or Op.Slice or Op.Flip;

    /// <summary>All movement ops (views and data-dependent gathers).</summary>
    public static bool IsMovement(this Op op) => op is >= Op.Reshape and <= Op.ScatterAdd;

    /// <summary>Composite ops that <c>DecomposeComposites</c> can lower to primitives.</summary>
    public static bool IsComposite(this Op op) => op is >= Op.Softmax and <= Op.Attention;

    /// <summary>The lower-case name used in printed IR.</summary>
    public static string Name(this Op op) => op switch
    {
        Op.MatMul => "matmul",
        Op.IndexSelect => "index_select",
        Op.ScatterAdd => "scatter_add",
        Op.SliceScatter => "slice_scatter",
        Op.CumSum => "cumsum",
        Op.LogSoftmax => "log_softmax",
        Op.ConvTranspose => "conv_transpose",
        Op.MaxPool => "max_pool",
        Op.AvgPool => "avg_pool",
        Op.UpsampleNearest => "upsample_nearest",
        Op.LayerNorm => "layer_norm",
        Op.RmsNorm => "rms_norm",
        Op.GroupNorm => "group_norm",
        Op.GeluTanh => "gelu_tanh",
        Op.FloorDiv => "floor_div",
        Op.LogicalNot => "logical_not",
        Op.LogicalAnd => "logical_and",
        Op.LogicalOr => "logical_or",
        Op.ArgMax => "argmax",
        Op.ArgMin => "argmin",
        _ => op.ToString().ToLowerInvariant(),
    };
}
