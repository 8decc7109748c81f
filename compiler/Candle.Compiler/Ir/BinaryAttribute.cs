namespace Candle.Compiler.Ir;

/// <summary>Declares a two-input elementwise op: its operator struct, typing rule and whether it commutes.</summary>
/// <param name="definition">The operator struct (a <c>IBinaryOp</c>).</param>
/// <param name="typing">The typing rule.</param>
internal sealed class BinaryAttribute(Type definition, BinaryTyping typing) : ElementwiseAttribute(definition)
{
    /// <summary>The typing rule.</summary>
    public BinaryTyping Typing { get; } = typing;

    /// <summary>Whether a op b == b op a.</summary>
    public bool Commutative { get; init; }
}
