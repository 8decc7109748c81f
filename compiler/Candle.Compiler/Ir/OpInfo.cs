using System.Reflection;
using Candle.Runtime.Kernels.Cpu;
using Candle.Runtime.Kernels.Cpu.Ops;

namespace Candle.Compiler.Ir;

/// <summary>
/// The groups and facts of <see cref="Op"/> that rules and backends match on, read once from the declarations on
/// the enum members (explicit sets, no ranges); elementwise ops carry their runtime operator struct's definition.
/// </summary>
public static class OpInfo
{
    private static readonly OpGroupAttribute?[] Groups = ReadGroups();
    private static readonly ElementwiseOpDefinition?[] Definitions =
        [.. Groups.Select(g => g is ElementwiseAttribute e ? ElementwiseOps.Of(e.Definition) : null)];

    /// <summary>Input, Constant, Full, Arange.</summary>
    public static bool IsLeaf(this Op op) => Group(op) is LeafAttribute;

    /// <summary>One-input elementwise ops, Cast included.</summary>
    public static bool IsUnary(this Op op) => Group(op) is UnaryAttribute;

    /// <summary>Two-input elementwise ops.</summary>
    public static bool IsBinary(this Op op) => Group(op) is BinaryAttribute;

    /// <summary>Comparisons producing bool.</summary>
    public static bool IsComparison(this Op op) => Group(op) is BinaryAttribute { Typing: BinaryTyping.Comparison };

    /// <summary>Unary, binary and where: output element i depends only on input elements i.</summary>
    public static bool IsElementwise(this Op op) => Group(op) is ElementwiseAttribute;

    /// <summary>a op b == b op a.</summary>
    public static bool IsCommutative(this Op op) => Group(op) is BinaryAttribute { Commutative: true };

    /// <summary>Reductions over axes (with ReduceAttrs).</summary>
    public static bool IsReduce(this Op op) => Group(op) is ReduceAttribute;

    /// <summary>Movement ops that are views of their first input.</summary>
    public static bool IsView(this Op op) => Group(op) is MovementAttribute { View: true };

    /// <summary>All movement ops (views and data-dependent gathers).</summary>
    public static bool IsMovement(this Op op) => Group(op) is MovementAttribute;

    /// <summary>Composite ops that <c>DecomposeComposites</c> can lower to primitives.</summary>
    public static bool IsComposite(this Op op) => Group(op) is CompositeAttribute;

    /// <summary>The typing rule of a unary op.</summary>
    /// <exception cref="ArgumentException"><paramref name="op"/> is not unary.</exception>
    public static UnaryTyping UnaryRule(this Op op) =>
        Group(op) is UnaryAttribute u ? u.Typing : throw new ArgumentException($"{op.Name()} is not a unary op", nameof(op));

    /// <summary>The typing rule of a binary op.</summary>
    /// <exception cref="ArgumentException"><paramref name="op"/> is not binary.</exception>
    public static BinaryTyping BinaryRule(this Op op) =>
        Group(op) is BinaryAttribute b ? b.Typing : throw new ArgumentException($"{op.Name()} is not a binary op", nameof(op));

    /// <summary>
    /// The runtime definition of an elementwise op: its operator struct, runtime code, and reference semantics.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="op"/> is not elementwise.</exception>
    public static ElementwiseOpDefinition Elementwise(this Op op) =>
        (uint)op < (uint)Definitions.Length && Definitions[(int)op] is { } d ? d : throw new ArgumentException($"{op} is not an elementwise op", nameof(op));

    /// <summary>The runtime reduce kernel's code for a reduction.</summary>
    /// <exception cref="ArgumentException"><paramref name="op"/> is not a reduction.</exception>
    public static ReduceOp ReduceKernelOp(this Op op) =>
        Group(op) is ReduceAttribute r ? r.KernelOp : throw new ArgumentException($"{op.Name()} is not a reduction", nameof(op));

    /// <summary>The lower-case name used in printed IR (an elementwise op's is its operator struct's).</summary>
    public static string Name(this Op op) => op switch
    {
        _ when op.IsElementwise() => op.Elementwise().Name,
        Op.MatMul => "matmul",
        Op.IndexSelect => "index_select",
        Op.QuantConstant => "quant_constant",
        Op.QuantMatMul => "quant_matmul",
        Op.QuantEmbedding => "quant_embedding",
        Op.ScatterAdd => "scatter_add",
        Op.SliceScatter => "slice_scatter",
        Op.CumSum => "cumsum",
        Op.RandomUniform => "random_uniform",
        Op.LogSoftmax => "log_softmax",
        Op.ConvTranspose => "conv_transpose",
        Op.MaxPool => "max_pool",
        Op.AvgPool => "avg_pool",
        Op.UpsampleNearest => "upsample_nearest",
        Op.LayerNorm => "layer_norm",
        Op.RmsNorm => "rms_norm",
        Op.GroupNorm => "group_norm",
        Op.ArgMax => "argmax",
        Op.ArgMin => "argmin",
        _ => op.ToString().ToLowerInvariant(),
    };

    private static OpGroupAttribute? Group(Op op) => (uint)op < (uint)Groups.Length ? Groups[(int)op] : null;

    private static OpGroupAttribute?[] ReadGroups()
    {
        var ops = Enum.GetValues<Op>();
        var groups = new OpGroupAttribute?[ops.Max(o => (int)o) + 1];
        foreach (var op in ops)
        {
            groups[(int)op] = typeof(Op).GetField(op.ToString(), BindingFlags.Public | BindingFlags.Static)!.GetCustomAttribute<OpGroupAttribute>();
        }

        return groups;
    }
}
