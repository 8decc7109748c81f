using Candle.Compiler.Scheduling;
using Candle.Runtime.Plans;

namespace Candle.Compiler.Backends.Metal;

/// <summary>A lowered graph for a Metal device: the MSL payload, the steps and the kernel graph's buffers and tensors.</summary>
/// <param name="Payload">The MSL of every kernel the steps dispatch.</param>
/// <param name="GeneratedSource">The generated kernels alone (with the header and prelude), compiled apart from the library on the shim.</param>
/// <param name="Steps">Dispatches and checks in order.</param>
/// <param name="Graph">The scheduled kernel graph (inputs, outputs, buffers, weights).</param>
internal sealed record MetalProgram(MslKernelPayload Payload, string GeneratedSource, IReadOnlyList<MetalStep> Steps, KernelGraph Graph);
