namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// The calling convention of every CPU kernel, generated or hand-written: the plan's buffer addresses,
/// the step's resolved arguments and the range of work items <c>[start, end)</c> to process.
/// </summary>
/// <param name="slots">Addresses of all buffers of the plan for this call, indexed by buffer slot.</param>
/// <param name="args">The step's arguments (slot numbers, sizes, strides, parameters as bits).</param>
/// <param name="start">First work item.</param>
/// <param name="end">One past the last work item.</param>
public delegate void KernelFn(nint[] slots, long[] args, long start, long end);
