namespace Candle.Runtime.Plans;

/// <summary>
/// The generated code of a plan for one backend, beside its backend-neutral <see cref="PlanDefinition"/>: a .NET
/// assembly of IL kernels for the CPU (<see cref="IlKernelPayload"/>); PTX, OpenCL C or Metal Shading Language text
/// for accelerators. The executor of the plan's device reads it.
/// </summary>
/// <param name="Target">The code's target: "cpu-il", "ptx", "opencl-c", "msl".</param>
/// <param name="Listing">A readable listing of the kernels (IL, PTX or source text).</param>
public abstract record KernelPayload(string Target, string Listing);

/// <summary>CPU kernels as a saved .NET assembly whose type <see cref="Plan.GeneratedKernelsType"/> holds static kernel methods.</summary>
/// <param name="AssemblyBytes">The assembly.</param>
/// <param name="Listing">The IL listing.</param>
public sealed record IlKernelPayload(byte[] AssemblyBytes, string Listing) : KernelPayload("cpu-il", Listing);
