using System.Collections.Frozen;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>
/// The table of elementwise ops: every operator struct of this assembly (<see cref="IElementwiseOp"/>), keyed by
/// its code and by its type. Built once and checked (codes and names are unique); the compiler's op declarations
/// name operator structs and take their codes from here, so saved plans and the runtime share one numbering.
/// </summary>
public static class ElementwiseOps
{
    private static readonly ElementwiseOpDefinition[] Definitions = Build();
    private static readonly FrozenDictionary<int, ElementwiseOpDefinition> ByCodeTable = Definitions.ToFrozenDictionary(d => d.Code);
    private static readonly FrozenDictionary<Type, ElementwiseOpDefinition> ByTypeTable = Definitions.ToFrozenDictionary(d => d.Type);

    /// <summary>Every op, by code.</summary>
    public static IReadOnlyList<ElementwiseOpDefinition> All => Definitions;

    /// <summary>The op with runtime code <paramref name="code"/>.</summary>
    /// <exception cref="KeyNotFoundException">No op has that code.</exception>
    public static ElementwiseOpDefinition ByCode(int code) =>
        ByCodeTable.TryGetValue(code, out var d) ? d : throw new KeyNotFoundException($"no elementwise op has code {code}");

    /// <summary>The op defined by the operator struct <paramref name="type"/>.</summary>
    /// <exception cref="KeyNotFoundException"><paramref name="type"/> is not an operator struct of this assembly.</exception>
    public static ElementwiseOpDefinition Of(Type type) =>
        ByTypeTable.TryGetValue(type, out var d) ? d : throw new KeyNotFoundException($"{type} is not an elementwise operator struct");

    // Every operator struct of this assembly, listed (not found by reflection) so that trimming and NativeAOT keep
    // them and their generic forms; a test checks the list against the assembly's types.
    private static ElementwiseOpDefinition[] Build()
    {
        ElementwiseOpDefinition[] list =
        [
        Unary<AbsOp>(),
        Binary<AddOp>(),
        Plain<CastOp>(),
        Unary<CeilOp>(),
        Unary<CosOp>(),
        Binary<DivOp>(),
        Binary<EqOp>(),
        Unary<ErfOp>(),
        Unary<ExpOp>(),
        Binary<FloorDivOp>(),
        Unary<FloorOp>(),
        Binary<GeOp>(),
        Unary<GeluOp>(),
        Unary<GeluTanhOp>(),
        Binary<GtOp>(),
        Binary<LeOp>(),
        Unary<LogOp>(),
        Binary<LogicalAndOp>(),
        Unary<LogicalNotOp>(),
        Binary<LogicalOrOp>(),
        Binary<LtOp>(),
        Binary<MaximumOp>(),
        Binary<MinimumOp>(),
        Unary<MishOp>(),
        Binary<MulOp>(),
        Binary<NeOp>(),
        Unary<NegOp>(),
        Binary<PowOp>(),
        Unary<ReciprocalOp>(),
        Unary<ReluOp>(),
        Binary<RemainderOp>(),
        Unary<RoundOp>(),
        Unary<RsqrtOp>(),
        Unary<SigmoidOp>(),
        Unary<SignOp>(),
        Unary<SiluOp>(),
        Unary<SinOp>(),
        Unary<SoftplusOp>(),
        Unary<SqrtOp>(),
        Binary<SubOp>(),
        Unary<TanhOp>(),
        Plain<WhereOp>(),
        ];
        foreach (var g in list.GroupBy(d => d.Code).Where(g => g.Count() > 1))
        {
            throw new InvalidOperationException($"elementwise op code {g.Key} is used by {string.Join(", ", g.Select(d => d.Type.Name))}");
        }

        foreach (var g in list.GroupBy(d => d.Name, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            throw new InvalidOperationException($"elementwise op name '{g.Key}' is used by {string.Join(", ", g.Select(d => d.Type.Name))}");
        }

        return [.. list.OrderBy(d => d.Code)];
    }

    private static ElementwiseOpDefinition Plain<TOp>()
        where TOp : IElementwiseOp =>
        new(TOp.Code, TOp.Name, typeof(TOp), null, null, null, null);

    private static ElementwiseOpDefinition Unary<TOp>()
        where TOp : IUnaryOp =>
        new(TOp.Code, TOp.Name, typeof(TOp), x => TOp.Invoke(x), null, TOp.HasIntegerForm ? x => TOp.InvokeInteger(x) : null, null)
        {
            UnaryF32 = x => TOp.Invoke<Lanes1, float>(x),
        };

    private static ElementwiseOpDefinition Binary<TOp>()
        where TOp : IBinaryOp =>
        new(TOp.Code, TOp.Name, typeof(TOp), null, (a, b) => TOp.Invoke(a, b), null, TOp.HasIntegerForm ? (a, b) => TOp.InvokeInteger(a, b) : null)
        {
            BinaryF32 = (a, b) => TOp.Invoke<Lanes1, float>(a, b),
        };
}
