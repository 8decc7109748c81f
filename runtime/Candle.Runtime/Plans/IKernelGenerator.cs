namespace Candle.Runtime.Plans;

/// <summary>
/// Rebuilds a plan's generated kernels from their specifications (as the plan file's kernel listing records them),
/// so that <see cref="Plan.Load(string, PlanLoadOptions)"/> can run a plan without loading the code embedded in it.
/// The compiler's CPU backend provides one (<c>Candle.Compiler.Backends.Cpu.CpuKernelGenerator</c>).
/// </summary>
public interface IKernelGenerator
{
    /// <summary>The payload target the generator builds, e.g. <c>cpu-il</c>.</summary>
    string Target { get; }

    /// <summary>
    /// Builds a kernel assembly whose type <see cref="Plan.GeneratedKernelsType"/> holds, under each given name, the
    /// kernel its specification describes.
    /// </summary>
    /// <param name="kernels">The kernels to build.</param>
    /// <returns>The assembly's bytes.</returns>
    /// <exception cref="PlanFormatException">A name or specification is malformed or describes no supported kernel.</exception>
    byte[] Generate(IReadOnlyList<GeneratedKernelSpec> kernels);
}
