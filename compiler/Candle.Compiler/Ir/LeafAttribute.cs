namespace Candle.Compiler.Ir;

/// <summary>Declares a leaf op (no inputs: input, constant, full, arange).</summary>
internal sealed class LeafAttribute : OpGroupAttribute
{
}
