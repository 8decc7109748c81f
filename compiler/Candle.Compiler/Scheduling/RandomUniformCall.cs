using Candle.Compiler.Ir;

namespace Candle.Compiler.Scheduling;

/// <summary>
/// Uniform float32 in [0, 1) into a dense buffer of <paramref name="Count"/> elements, from the int64 seed at element 0
/// of buffer <paramref name="Seed"/> in stream <paramref name="Stream"/> (<see cref="Op.RandomUniform"/>).
/// </summary>
internal sealed record RandomUniformCall(int Slot, int Seed, long Stream, Dim Count, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [Slot, Seed];
}
