using Candle.Runtime.Kernels.Cpu;

namespace Candle.Compiler.Ir;

/// <summary>Declares a reduction over axes and the runtime reduce kernel's op that computes it.</summary>
/// <param name="kernelOp">The reduction's code in the runtime's reduce kernel.</param>
internal sealed class ReduceAttribute(ReduceOp kernelOp) : OpGroupAttribute
{
    /// <summary>The reduction's code in the runtime's reduce kernel.</summary>
    public ReduceOp KernelOp { get; } = kernelOp;
}
