namespace Candle.Compiler.Ir;

/// <summary>Declares a one-input elementwise op: its operator struct and typing rule.</summary>
/// <param name="definition">The operator struct (a <c>IUnaryOp</c>, or <c>CastOp</c>).</param>
/// <param name="typing">The typing rule.</param>
internal sealed class UnaryAttribute(Type definition, UnaryTyping typing) : ElementwiseAttribute(definition)
{
    /// <summary>The typing rule.</summary>
    public UnaryTyping Typing { get; } = typing;
}
