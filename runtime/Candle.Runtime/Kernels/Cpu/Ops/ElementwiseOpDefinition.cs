namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>
/// One row of <see cref="ElementwiseOps"/>: an operator struct's code and name with its reference semantics as
/// delegates (what the scalar fallback kernel and the reference interpreter call per element).
/// </summary>
/// <param name="Code">The runtime code.</param>
/// <param name="Name">The lower-case name.</param>
/// <param name="Type">The operator struct.</param>
/// <param name="Unary">The double form of a unary op, else null.</param>
/// <param name="Binary">The double form of a binary op, else null.</param>
/// <param name="UnaryInteger">The exact integer form of a unary op that has one, else null.</param>
/// <param name="BinaryInteger">The exact integer form of a binary op that has one, else null.</param>
public sealed record ElementwiseOpDefinition(
    int Code,
    string Name,
    Type Type,
    Func<double, double>? Unary,
    Func<double, double, double>? Binary,
    Func<long, long>? UnaryInteger,
    Func<long, long, long>? BinaryInteger)
{
    /// <summary>The float32 scalar form of a unary op (its lanes form at width one, as generated kernels' scalar tails compute), else null.</summary>
    public Func<float, float>? UnaryF32 { get; init; }

    /// <summary>The float32 scalar form of a binary op (its lanes form at width one), else null.</summary>
    public Func<float, float, float>? BinaryF32 { get; init; }
}
