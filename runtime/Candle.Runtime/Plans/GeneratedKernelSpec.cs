namespace Candle.Runtime.Plans;

/// <summary>One generated kernel of a plan: its name in the kernel assembly and the specification it was built from.</summary>
/// <param name="Name">The kernel's method name (steps name it as <c>gen:Name</c>).</param>
/// <param name="Spec">The backend's specification text of the kernel (for the CPU, the elementwise kernel's key).</param>
public sealed record GeneratedKernelSpec(string Name, string Spec);
