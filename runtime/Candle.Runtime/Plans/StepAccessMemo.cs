using Candle.Runtime.Kernels.Cpu.Args;

namespace Candle.Runtime.Plans;

/// <summary>
/// The decoded accesses of a plan's steps at their last bound arguments, so that binding the plan for new symbol values
/// decodes again only the steps whose arguments changed (a decode step at a new cache length changes a few of its
/// hundreds): every step's extents are still checked against the new buffer sizes. Safe to share between threads
/// (each step's entry is replaced whole).
/// </summary>
internal sealed class StepAccessMemo(int steps)
{
    private readonly Entry?[] _entries = new Entry?[steps];

    /// <summary>The step's problem with <paramref name="args"/>, <paramref name="work"/> and the buffer sizes <paramref name="bytes"/>, or null.</summary>
    public string? Problem(
        PlanStep step, int s, long[] args, long work, long[] bytes, IReadOnlyList<PlanBuffer> buffers, IReadOnlyDictionary<string, GeneratedLayout> generated)
    {
        var e = Volatile.Read(ref _entries[s]);
        if (e is null || e.Work != work || !e.Args.AsSpan().SequenceEqual(args))
        {
            e = new Entry([.. args], work, StepAccess.Decoded(step, s, args, work, buffers, generated));
            Volatile.Write(ref _entries[s], e);
        }

        return e.Accesses.Problem(step, s, bytes, buffers);
    }

    private sealed record Entry(long[] Args, long Work, StepAccesses Accesses);
}
