using Candle.Compiler.Ir;
using Candle.Compiler.Rewrite;
using Candle.Runtime;

namespace Candle.Compiler.Passes;

/// <summary>
/// Algebraic identities as rewrite rules: x·1, x+0, x−0, x/1, x−x → 0, −(−x), x·(−1) → −x, double permutes and
/// reshape chains composed, exact cast chains shortened, views of fills folded into fills, pow(x, 2) → x·x,
/// pow(x, 1) → x and x / c → x · (1/c) for floats. x·0 → 0 only for integers (NaN and infinity keep IEEE
/// semantics for floats); x − x → 0 assumes finite values, as fast-math compilers do.
/// </summary>
public sealed class AlgebraicSimplification : Pass
{
    /// <summary>The rules of this pass.</summary>
    public static RuleSet Rules { get; } = Build();

    /// <inheritdoc/>
    public override PassInfo Info { get; } = new("algebraic-simplification", 2);

    /// <inheritdoc/>
    public override Graph Run(Graph graph, PassContext context) => Rewriter.Rewrite(graph, Rules);

    /// <summary>A pattern matching any node whose elements are all <paramref name="value"/>.</summary>
    public static Pattern Value(double value) =>
        Pattern.Any().Where(n => NodeFacts.IsUniform(n, value)).Described(value.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>True when every value of <paramref name="from"/> converts to <paramref name="to"/> exactly.</summary>
    public static bool IsExactConversion(DType from, DType to) => (from, to) switch
    {
        _ when from == to => true,
        (DType.Bool, _) => true,
        (DType.F16 or DType.BF16, DType.F32 or DType.F64) => true,
        (DType.F32, DType.F64) => true,
        (DType.U8, DType.I32 or DType.I64 or DType.F16 or DType.BF16 or DType.F32 or DType.F64) => true,
        (DType.I8, DType.I32 or DType.I64 or DType.F16 or DType.BF16 or DType.F32 or DType.F64) => true,
        (DType.I32, DType.I64 or DType.F64) => true,
        _ => false,
    };

    private static RuleSet Build()
    {
        var x = Pattern.Any("x");
        var rules = new RuleSet
        {
            new Rule("mul-one", Pattern.Of(Op.Mul, x, Value(1)), m => m["x"]),
            new Rule("add-zero", Pattern.Of(Op.Add, x, Value(0)), m => m["x"]),
            new Rule("sub-zero", Pattern.Of(Op.Sub, x, Value(0)), m => m["x"]),
            new Rule("div-one", Pattern.Of(Op.Div, x, Value(1)), m => m["x"]),
            new Rule("pow-one", Pattern.Of(Op.Pow, x, Value(1)), m => m["x"]),
            new Rule("sub-self", Pattern.Of(Op.Sub, x, x), m => NodeFacts.FullLike(m.Root, 0)),
            new Rule("mul-zero-int", Pattern.Of(Op.Mul, x, Value(0)).Where(n => !n.DType.IsFloat()), m => NodeFacts.FullLike(m.Root, 0)),
            new Rule("neg-neg", Pattern.Of(Op.Neg, Pattern.Of(Op.Neg, x)), m => m["x"]),
            new Rule("mul-minus-one", Pattern.Of(Op.Mul, x, Value(-1)).Where(n => n.DType != DType.Bool), m => Node.Create(Op.Neg, null, m["x"])),
            new Rule("sub-neg", Pattern.Of(Op.Sub, x, Pattern.Of(Op.Neg, Pattern.Any("y"))), m => Node.Create(Op.Add, null, m["x"], m["y"])),
            new Rule("add-neg", Pattern.Of(Op.Add, x, Pattern.Of(Op.Neg, Pattern.Any("y"))), m => Node.Create(Op.Sub, null, m["x"], m["y"])),
            new Rule("pow-two", Pattern.Of(Op.Pow, x, Value(2)).Where(NodeFacts.IsFloat), m => Node.Create(Op.Mul, null, m["x"], m["x"])),
            new Rule(
                "div-constant",
                Pattern.Of(Op.Div, x, Pattern.Any("c").Where(n => NodeFacts.UniformValue(n) is { } v && v != 0 && double.IsFinite(1 / v))).Where(NodeFacts.IsFloat),
                m => Node.Create(Op.Mul, null, m["x"], NodeFacts.FullLike(m["c"], 1 / NodeFacts.UniformValue(m["c"])!.Value))),
            new Rule(
                "permute-permute",
                Pattern.Of(Op.Permute, Pattern.Of(Op.Permute, x).As("inner")),
                m =>
                {
                    var inner = m["inner"].Attr<PermuteAttrs>().Perm;
                    var outer = m.Root.Attr<PermuteAttrs>().Perm;
                    return IrBuilder.Permute(m["x"], [.. outer.Select(i => inner[i])]);
                }),
            new Rule("reshape-reshape", Pattern.Of(Op.Reshape, Pattern.Of(Op.Reshape, x)), m => IrBuilder.Reshape(m["x"], m.Root.Shape)),
            new Rule("expand-expand", Pattern.Of(Op.Expand, Pattern.Of(Op.Expand, x)), m => Node.Create(Op.Expand, m.Root.Attrs, m["x"])),
            new Rule(
                "cast-cast-exact",
                Pattern.Of(Op.Cast, Pattern.Of(Op.Cast, x).As("mid")).Where(n => IsExactConversion(n.Inputs[0].Inputs[0].DType, n.Inputs[0].DType)),
                m => IrBuilder.Cast(m["x"], m.Root.DType)),
            new Rule(
                "view-of-full",
                Pattern.OfGroup(op => op.IsView(), "view", Pattern.Of(Op.Full)),
                m => NodeFacts.FullLike(m.Root, m.Root.Inputs[0].Attr<FullAttrs>().Value)),
            new Rule(
                "cast-of-full",
                Pattern.Of(Op.Cast, Pattern.Of(Op.Full)),
                m => NodeFacts.FullLike(m.Root, CastValue(m.Root.Inputs[0].Attr<FullAttrs>().Value, m.Root.Inputs[0].DType, m.Root.DType))),
        };
        return rules;
    }

    private static double CastValue(double v, DType from, DType to) => Round(to, Round(from, v));

    private static double Round(DType dtype, double v)
    {
        var t = Candle.Runtime.Tensors.HostTensor.Zeros(dtype, 1);
        t.SetDouble(0, v);
        return t.GetDouble(0);
    }
}
