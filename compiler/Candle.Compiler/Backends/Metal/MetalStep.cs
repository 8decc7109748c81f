using Candle.Compiler.Ir;

namespace Candle.Compiler.Backends.Metal;

/// <summary>One step of a Metal program, in execution order.</summary>
/// <param name="Label">What the step computes (from its kernel call), for error messages.</param>
internal abstract record MetalStep(string Label);

/// <summary>
/// A kernel dispatch: the buffers bound at indices 0.. (plan slots, each with a byte offset), then the 64-bit
/// arguments as one more buffer, over a grid of threadgroups computed from the bound symbols.
/// </summary>
/// <param name="Kernel">The MSL kernel's name.</param>
/// <param name="Buffers">The slot of each bound buffer.</param>
/// <param name="Args">The <c>long</c> arguments, bound after the buffers.</param>
/// <param name="Grid">The threadgroups and threads per threadgroup, from the evaluated arguments.</param>
/// <param name="Label">What the step computes.</param>
internal sealed record MetalDispatch(string Kernel, int[] Buffers, Dim[] Args, Func<long[], MetalGrid> Grid, string Label) : MetalStep(Label)
{
    /// <summary>Picks the kernel from the evaluated arguments (decode or prefill attention), else <see cref="Kernel"/>.</summary>
    public Func<long[], string>? SelectKernel { get; init; }
}

/// <summary>A host-side check of <c>0 ≤ Start ≤ End ≤ Size</c> before the next dispatches.</summary>
internal sealed record MetalCheck(Dim Start, Dim End, Dim Size, string Label) : MetalStep(Label);

/// <summary>A grid: threadgroups along x, y, z and threads per threadgroup along x, y, z.</summary>
internal readonly record struct MetalGrid((uint X, uint Y, uint Z) Groups, (uint X, uint Y, uint Z) Threads)
{
    /// <summary>A one-dimensional grid covering <paramref name="count"/> threads in threadgroups of <paramref name="width"/>.</summary>
    public static MetalGrid Linear(long count, uint width) => new((checked((uint)((count + width - 1) / width)), 1, 1), (width, 1, 1));
}
