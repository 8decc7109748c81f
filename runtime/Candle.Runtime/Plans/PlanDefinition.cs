namespace Candle.Runtime.Plans;

/// <summary>
/// Everything a <see cref="Plan"/> is made of except kernel code and weight data: inputs, outputs, buffers, steps
/// and the names, dtypes and shapes of the weights (in the order of their buffer indices).
/// </summary>
/// <param name="Inputs">Plan inputs, in call order.</param>
/// <param name="Outputs">Plan outputs, in result order.</param>
/// <param name="Buffers">Buffer slots.</param>
/// <param name="Steps">Kernel calls, in execution order.</param>
/// <param name="Weights">Weight names (their dtypes and shapes come with the bound tensors).</param>
/// <param name="Threads">Worker threads: 0 uses the shared pool, 1 runs every step on the calling thread, n runs on a pool of n threads of the plan's own.</param>
public sealed record PlanDefinition(
    IReadOnlyList<PlanTensor> Inputs,
    IReadOnlyList<PlanTensor> Outputs,
    IReadOnlyList<PlanBuffer> Buffers,
    IReadOnlyList<PlanStep> Steps,
    IReadOnlyList<string> Weights,
    int Threads);
