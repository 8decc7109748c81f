namespace Candle.Transformers.Chat.Templates;

/// <summary>The kinds of token the Jinja lexer produces.</summary>
internal enum JinjaTokenKind
{
    Data,
    VariableBegin,
    VariableEnd,
    BlockBegin,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    Eof,
}

/// <summary>One token: its kind, its text (a string literal already unescaped) and the 1-based line it starts on.</summary>
internal readonly record struct JinjaToken(JinjaTokenKind Kind, string Value, int Line)
{
    public bool Is(JinjaTokenKind kind, string value) => Kind == kind && Value == value;

    public bool IsName(string value) => Kind == JinjaTokenKind.Name && Value == value;

    public bool IsOp(string value) => Kind == JinjaTokenKind.Operator && Value == value;

    public override string ToString() => Kind switch
    {
        JinjaTokenKind.Eof => "end of template",
        JinjaTokenKind.BlockEnd => "end of statement block",
        JinjaTokenKind.VariableEnd => "end of print statement",
        _ => $"'{Value}'",
    };
}
