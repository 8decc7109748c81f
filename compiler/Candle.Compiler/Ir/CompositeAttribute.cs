namespace Candle.Compiler.Ir;

/// <summary>Declares a composite op that <c>DecomposeComposites</c> can lower to primitives.</summary>
internal sealed class CompositeAttribute : OpGroupAttribute
{
}
