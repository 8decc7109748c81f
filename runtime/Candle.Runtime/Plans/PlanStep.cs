namespace Candle.Runtime.Plans;

/// <summary>
/// One kernel call of a plan. <see cref="Kernel"/> names the kernel: <c>rt:NAME</c> for a hand-written
/// runtime kernel (<see cref="Kernels.Cpu.RuntimeKernels"/>) or <c>gen:NAME</c> for a generated method of the
/// plan's kernel assembly. Its arguments (buffer slot numbers, sizes, strides, parameters) are expressions
/// resolved once per set of symbol values. The kernel is called over item ranges of <c>[0, Work)</c>;
/// ranges are split over the worker pool when <c>Work · CostPerItem</c> is large.
/// </summary>
/// <param name="Kernel">The kernel's name.</param>
/// <param name="Args">The kernel's arguments.</param>
/// <param name="Work">Number of independent work items (elements, rows, ...).</param>
/// <param name="CostPerItem">Rough cost of one item in elements touched; 0 keeps the step on one thread.</param>
/// <param name="Label">What the step computes, for dumps and error messages.</param>
public sealed record PlanStep(string Kernel, IReadOnlyList<DimExpr> Args, DimExpr Work, DimExpr CostPerItem, string Label);
