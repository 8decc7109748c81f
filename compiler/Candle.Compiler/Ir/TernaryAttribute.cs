namespace Candle.Compiler.Ir;

/// <summary>Declares a three-input elementwise op (where).</summary>
/// <param name="definition">The operator struct.</param>
internal sealed class TernaryAttribute(Type definition) : ElementwiseAttribute(definition)
{
}
