using Candle.Compiler.Scheduling;
using Candle.Runtime.Plans;

namespace Candle.Compiler.Backends.Metal;

/// <summary>A lowered graph for a Metal device: the MSL payload, the steps and the kernel graph's buffers and tensors.</summary>
/// <param name="Payload">The MSL of every kernel the steps dispatch.</param>
/// <param name="Generated">The generated kernels, each named after its source (the shim compiles them apart from the library).</param>
/// <param name="Steps">Dispatches and checks in order.</param>
/// <param name="Graph">The scheduled kernel graph (inputs, outputs, buffers, weights).</param>
internal sealed record MetalProgram(MslKernelPayload Payload, IReadOnlyList<MslKernelSource> Generated, IReadOnlyList<MetalStep> Steps, KernelGraph Graph);

/// <summary>One generated MSL kernel: its name and its function's source (without the header and prelude).</summary>
internal sealed record MslKernelSource(string Name, string Source);
