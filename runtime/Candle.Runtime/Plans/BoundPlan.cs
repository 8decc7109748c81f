using Candle.Runtime.Kernels.Cpu.Args;

namespace Candle.Runtime.Plans;

/// <summary>A plan's sizes, arena layout and step arguments resolved for one set of symbol values.</summary>
internal sealed class BoundPlan
{
    public required long ArenaBytes { get; init; }

    /// <summary>Per buffer: arena offset (arena buffers) or -1.</summary>
    public required long[] Offsets { get; init; }

    /// <summary>Per buffer: size in bytes.</summary>
    public required long[] Bytes { get; init; }

    public required long[][] Args { get; init; }

    public required long[] Work { get; init; }

    public required int[] MinPerChunk { get; init; }

    public required int[][] OutputShapes { get; init; }

    /// <summary>Per step, an access outside a buffer its bound arguments would make (raised when the step is reached), or null when none.</summary>
    public string?[]? AccessProblems { get; init; }

    /// <summary>Resolves the plan for <paramref name="env"/>; <paramref name="layout"/> assigns arena offsets from sizes and lifetimes.</summary>
    /// <param name="def">The plan's definition.</param>
    /// <param name="env">The symbol values.</param>
    /// <param name="layout">Assigns arena offsets.</param>
    /// <param name="generated">The argument layouts of the plan's generated kernels, by name.</param>
    /// <param name="memo">The steps' accesses decoded by earlier bindings, or null to decode every step.</param>
    public static BoundPlan Create(
        PlanDefinition def, IReadOnlyDictionary<string, long> env, Func<long[], int[], int[], (long[] Offsets, long Peak)> layout, IReadOnlyDictionary<string, GeneratedLayout> generated,
        StepAccessMemo? memo = null)
    {
        int nb = def.Buffers.Count;
        var bytes = new long[nb];
        var offsets = new long[nb];
        var arena = new List<int>();
        for (int i = 0; i < nb; i++)
        {
            bytes[i] = def.Buffers[i].Bytes.Evaluate(env);
            offsets[i] = -1;
            if (def.Buffers[i].Kind == BufferKind.Arena) arena.Add(i);
        }

        var ab = new long[arena.Count];
        var af = new int[arena.Count];
        var al = new int[arena.Count];
        for (int i = 0; i < arena.Count; i++)
        {
            var b = def.Buffers[arena[i]];
            ab[i] = bytes[arena[i]];
            af[i] = b.FirstStep;
            al[i] = b.LastStep;
        }

        var (ao, peak) = layout(ab, af, al);
        for (int i = 0; i < arena.Count; i++) offsets[arena[i]] = ao[i];
        int ns = def.Steps.Count;
        var args = new long[ns][];
        var work = new long[ns];
        var minPer = new int[ns];
        string?[]? problems = null;
        for (int s = 0; s < ns; s++)
        {
            var st = def.Steps[s];
            var a = new long[st.Args.Count];
            for (int j = 0; j < a.Length; j++) a[j] = st.Args[j].Evaluate(env);
            args[s] = a;
            work[s] = st.Work.Evaluate(env);
            if ((memo is null ? StepAccess.Problem(st, s, a, bytes, work[s], def.Buffers, generated) : memo.Problem(st, s, a, work[s], bytes, def.Buffers, generated)) is { } problem)
            {
                problems ??= new string?[ns];
                problems[s] = problem;
            }
            long cost = st.CostPerItem.Evaluate(env);
            minPer[s] = cost <= 0 ? int.MaxValue : (int)Math.Clamp(32768 / cost, 1, int.MaxValue);
        }

        var outs = new int[def.Outputs.Count][];
        for (int o = 0; o < outs.Length; o++)
        {
            outs[o] = [.. def.Outputs[o].Shape.Select(d => checked((int)d.Evaluate(env)))];
        }

        // An input's or output's buffer may not claim more bytes than the tensor behind it holds.
        for (int i = 0; i < nb; i++)
        {
            var b = def.Buffers[i];
            var t = b.Kind switch
            {
                BufferKind.Input when b.Index >= 0 && b.Index < def.Inputs.Count => def.Inputs[b.Index],
                BufferKind.Output when b.Index >= 0 && b.Index < def.Outputs.Count => def.Outputs[b.Index],
                _ => null,
            };
            if (t is null) continue;
            long held = t.DType.SizeInBytes();
            foreach (var d in t.Shape) held = checked(held * d.Evaluate(env));
            if (bytes[i] > held)
            {
                throw new PlanFormatException($"plan buffer b{i} claims {bytes[i]} bytes but {b.Kind.ToString().ToLowerInvariant()} '{t.Name}' holds {held}");
            }
        }

        return new BoundPlan { ArenaBytes = peak, Offsets = offsets, Bytes = bytes, Args = args, Work = work, MinPerChunk = minPer, OutputShapes = outs, AccessProblems = problems };
    }
}
