namespace Candle.Runtime.Plans;

/// <summary>Metal Shading Language source of a plan's kernels, compiled once by the executor of its Metal device.</summary>
/// <param name="Source">The MSL source: the generated kernels and the library kernels the plan calls.</param>
public sealed record MslKernelPayload(string Source) : KernelPayload("msl", Source);
