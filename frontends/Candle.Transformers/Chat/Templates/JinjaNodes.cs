namespace Candle.Transformers.Chat.Templates;

/// <summary>An expression of the template language.</summary>
internal abstract record JinjaExpr(int Line);

internal sealed record ConstExpr(int Line, object? Value) : JinjaExpr(Line);

internal sealed record NameExpr(int Line, string Name) : JinjaExpr(Line);

internal sealed record ListExpr(int Line, List<JinjaExpr> Items) : JinjaExpr(Line);

internal sealed record TupleExpr(int Line, List<JinjaExpr> Items) : JinjaExpr(Line);

internal sealed record DictExpr(int Line, List<(JinjaExpr Key, JinjaExpr Value)> Items) : JinjaExpr(Line);

internal sealed record AttrExpr(int Line, JinjaExpr Target, string Attribute) : JinjaExpr(Line);

internal sealed record ItemExpr(int Line, JinjaExpr Target, JinjaExpr Key) : JinjaExpr(Line);

internal sealed record SliceExpr(int Line, JinjaExpr Target, JinjaExpr? Start, JinjaExpr? Stop, JinjaExpr? Step) : JinjaExpr(Line);

/// <summary>Call arguments as written: positional, keyword, <c>*args</c> and <c>**kwargs</c>.</summary>
internal sealed record CallArgs(List<JinjaExpr> Positional, List<(string Name, JinjaExpr Value)> Keywords, JinjaExpr? StarArgs, JinjaExpr? StarKwargs)
{
    public static readonly CallArgs None = new([], [], null, null);
}

internal sealed record CallExpr(int Line, JinjaExpr Target, CallArgs Args) : JinjaExpr(Line);

internal sealed record FilterExpr(int Line, JinjaExpr? Target, string Name, CallArgs Args) : JinjaExpr(Line);

internal sealed record TestExpr(int Line, JinjaExpr Target, string Name, CallArgs Args, bool Negated) : JinjaExpr(Line);

internal sealed record UnaryExpr(int Line, string Op, JinjaExpr Operand) : JinjaExpr(Line);

internal sealed record BinaryExpr(int Line, string Op, JinjaExpr Left, JinjaExpr Right) : JinjaExpr(Line);

internal sealed record CompareExpr(int Line, JinjaExpr First, List<(string Op, JinjaExpr Right)> Rest) : JinjaExpr(Line);

internal sealed record ConcatExpr(int Line, List<JinjaExpr> Parts) : JinjaExpr(Line);

internal sealed record CondExpr(int Line, JinjaExpr Test, JinjaExpr Then, JinjaExpr? Else) : JinjaExpr(Line);

/// <summary>A statement (or text) of the template.</summary>
internal abstract record JinjaNode(int Line);

internal sealed record TextNode(int Line, string Text) : JinjaNode(Line);

internal sealed record OutputNode(int Line, JinjaExpr Expr) : JinjaNode(Line);

internal sealed record IfNode(int Line, List<(JinjaExpr Test, List<JinjaNode> Body)> Branches, List<JinjaNode>? Else) : JinjaNode(Line);

internal sealed record ForNode(int Line, JinjaExpr Target, JinjaExpr Iter, JinjaExpr? Filter, List<JinjaNode> Body, List<JinjaNode>? Else, bool Recursive) : JinjaNode(Line);

internal sealed record SetNode(int Line, JinjaExpr Target, JinjaExpr Value) : JinjaNode(Line);

internal sealed record SetBlockNode(int Line, JinjaExpr Target, List<JinjaNode> Body, List<FilterExpr> Filters) : JinjaNode(Line);

internal sealed record MacroNode(int Line, string Name, List<(string Name, JinjaExpr? Default)> Parameters, List<JinjaNode> Body) : JinjaNode(Line);

internal sealed record CallBlockNode(int Line, CallExpr Call, List<(string Name, JinjaExpr? Default)> Parameters, List<JinjaNode> Body) : JinjaNode(Line);

internal sealed record FilterBlockNode(int Line, List<FilterExpr> Filters, List<JinjaNode> Body) : JinjaNode(Line);

internal sealed record WithNode(int Line, List<(JinjaExpr Target, JinjaExpr Value)> Assignments, List<JinjaNode> Body) : JinjaNode(Line);

internal sealed record ExprStatementNode(int Line, JinjaExpr Expr) : JinjaNode(Line);

internal sealed record BreakNode(int Line) : JinjaNode(Line);

internal sealed record ContinueNode(int Line) : JinjaNode(Line);
