using Candle.Runtime.Kernels.Cpu.Args;

namespace Candle.Runtime.Plans;

/// <summary>
/// A step's accesses decoded from its bound arguments (<see cref="StepAccess.Decoded"/>): the extents it reads and
/// writes, or the problem of the arguments themselves, and a problem found after the extents are checked (a generated
/// kernel writing a weight).
/// </summary>
internal sealed record StepAccesses(StepExtent[]? Extents, string? ArgumentProblem, string? LateProblem)
{
    /// <summary>The step's problem with the bound buffer sizes <paramref name="bytes"/>, or null: in the order <see cref="StepAccess.Problem"/> reports them.</summary>
    public string? Problem(PlanStep step, int s, long[] bytes, IReadOnlyList<PlanBuffer> buffers) =>
        ArgumentProblem ?? StepAccess.Outside(step, s, Extents!, bytes, buffers) ?? LateProblem;
}
