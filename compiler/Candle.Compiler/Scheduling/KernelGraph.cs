using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Scheduling;

/// <summary>
/// A buffer of a kernel graph: an input, a weight, an intermediate or an output, its size in bytes and the calls
/// between which it is live (an intermediate's lifetime drives the memory planner).
/// </summary>
internal sealed record KernelBuffer(BufferKind Kind, int Index, Dim Bytes, int FirstCall, int LastCall);

/// <summary>A graph input or output: its name, dtype, shape and buffer (an output may be a donated input's buffer).</summary>
internal sealed record KernelTensor(string Name, DType DType, Dim[] Shape, int Buffer);

/// <summary>A constant the kernel graph reads, by name.</summary>
internal sealed record KernelWeight(string Name, HostTensor Data);

/// <summary>
/// What the scheduler makes of an optimized graph, for any backend: typed kernel calls in execution order over
/// buffers with lifetimes, the graph's inputs and outputs, and the weights. A backend renders the generated kernels
/// and maps the calls onto its executor.
/// </summary>
internal sealed record KernelGraph(
    IReadOnlyList<KernelTensor> Inputs,
    IReadOnlyList<KernelTensor> Outputs,
    IReadOnlyList<KernelBuffer> Buffers,
    IReadOnlyList<KernelCall> Calls,
    IReadOnlyList<KernelWeight> Weights);
