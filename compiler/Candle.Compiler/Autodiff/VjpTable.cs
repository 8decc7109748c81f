using Candle.Compiler.Autodiff.Rules;
using Candle.Compiler.Ir;

namespace Candle.Compiler.Autodiff;

/// <summary>
/// Every op's vector-Jacobian rule, or the statement that it has none. The rules live in one table per op group
/// (<c>Rules/ElementwiseVjps</c>, <c>ReductionVjps</c>, <c>LinearAlgebraVjps</c>, <c>MovementVjps</c>,
/// <c>CompositeVjps</c>, <c>ConvolutionVjps</c>), each beside the others of its group, in the order of
/// <see cref="Op"/>; an op added to the IR states its rule in its group's table (a test checks that every op has an
/// entry). Ops whose outputs carry no gradient (comparisons, argmax, rounding, leaves) are registered as such.
/// </summary>
public static class VjpTable
{
    private static readonly Dictionary<Op, VjpRule?> Rules = Build();

    /// <summary>The rule of <paramref name="op"/>, or null when it has no gradient (its inputs receive none).</summary>
    /// <exception cref="NotSupportedException">The op has no entry in any rule table.</exception>
    public static VjpRule? Of(Op op) =>
        Rules.TryGetValue(op, out var rule) ? rule : throw new NotSupportedException($"autodiff: op '{op.Name()}' has no vector-Jacobian rule");

    /// <summary>True when the op has an entry (a rule or an explicit "no gradient").</summary>
    public static bool HasEntry(Op op) => Rules.ContainsKey(op);

    /// <summary>True when the op has a rule (it passes gradients to its inputs).</summary>
    public static bool IsDifferentiable(Op op) => Rules.TryGetValue(op, out var r) && r is not null;

    private static Dictionary<Op, VjpRule?> Build()
    {
        var table = new Registry();
        ElementwiseVjps.Register(table);
        ReductionVjps.Register(table);
        LinearAlgebraVjps.Register(table);
        MovementVjps.Register(table);
        CompositeVjps.Register(table);
        ConvolutionVjps.Register(table);
        return table.Entries;
    }

    /// <summary>What a group's table adds its rules to.</summary>
    internal sealed class Registry
    {
        /// <summary>The entries so far.</summary>
        public Dictionary<Op, VjpRule?> Entries { get; } = [];

        /// <summary>Declares the rule of <paramref name="op"/>.</summary>
        public void Add(Op op, VjpRule rule)
        {
            if (!Entries.TryAdd(op, rule)) throw new InvalidOperationException($"autodiff: op '{op.Name()}' has two rules");
        }

        /// <summary>Declares that <paramref name="ops"/> pass no gradient to their inputs.</summary>
        public void None(params Op[] ops)
        {
            foreach (var op in ops)
            {
                if (!Entries.TryAdd(op, null)) throw new InvalidOperationException($"autodiff: op '{op.Name()}' has two rules");
            }
        }
    }
}
