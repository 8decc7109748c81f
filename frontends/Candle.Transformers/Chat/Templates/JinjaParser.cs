using System.Globalization;

namespace Candle.Transformers.Chat.Templates;

/// <summary>
/// Parses Jinja tokens into statements and expressions with Jinja's grammar and precedence: conditional
/// expressions, <c>or</c>/<c>and</c>/<c>not</c>, chained comparisons and <c>in</c>/<c>not in</c>, <c>+ -</c>,
/// <c>~</c>, <c>* / // %</c>, <c>**</c>, unary signs, then postfix attribute, subscript, slice and call, then
/// filters (<c>|</c>) and tests (<c>is</c>). Statements: if/elif/else, for (unpacking, <c>if</c> filter,
/// <c>else</c>, <c>recursive</c>), set (namespace attributes, tuples, blocks), macro, call, filter, with,
/// break/continue, do, and transformers' <c>generation</c> block.
/// </summary>
internal sealed class JinjaParser
{
    private static readonly HashSet<string> CompareOps = ["==", "!=", "<", ">", "<=", ">="];
    private readonly List<JinjaToken> _tokens;
    private int _pos;

    private JinjaParser(List<JinjaToken> tokens) => _tokens = tokens;

    public static List<JinjaNode> Parse(List<JinjaToken> tokens)
    {
        var parser = new JinjaParser(tokens);
        var body = parser.Subparse(null);
        return body;
    }

    private JinjaToken Current => _tokens[_pos];

    private JinjaToken Peek(int ahead = 1) => _tokens[Math.Min(_pos + ahead, _tokens.Count - 1)];

    private JinjaToken Next()
    {
        var t = _tokens[_pos];
        if (_pos < _tokens.Count - 1) _pos++;
        return t;
    }

    private TemplateException Fail(string message, JinjaToken? at = null) =>
        new($"line {(at ?? Current).Line}: {message}");

    private JinjaToken Expect(JinjaTokenKind kind, string? value = null)
    {
        var t = Current;
        if (t.Kind != kind || (value is not null && t.Value != value))
        {
            string wanted = value is not null ? $"'{value}'" : kind switch
            {
                JinjaTokenKind.BlockEnd => "end of statement block",
                JinjaTokenKind.VariableEnd => "end of print statement",
                JinjaTokenKind.Name => "name",
                _ => kind.ToString(),
            };
            throw Fail($"expected {wanted}, got {t}");
        }

        return Next();
    }

    private void ExpectOp(string op) => Expect(JinjaTokenKind.Operator, op);

    private bool SkipOp(string op)
    {
        if (!Current.IsOp(op)) return false;
        Next();
        return true;
    }

    private bool SkipName(string name)
    {
        if (!Current.IsName(name)) return false;
        Next();
        return true;
    }

    private List<JinjaNode> Subparse(string[]? endTokens)
    {
        var body = new List<JinjaNode>();
        while (true)
        {
            var t = Current;
            switch (t.Kind)
            {
                case JinjaTokenKind.Data:
                    Next();
                    body.Add(new TextNode(t.Line, t.Value));
                    break;
                case JinjaTokenKind.VariableBegin:
                    Next();
                    body.Add(new OutputNode(t.Line, ParseTuple()));
                    Expect(JinjaTokenKind.VariableEnd);
                    break;
                case JinjaTokenKind.BlockBegin:
                    Next();
                    if (endTokens is not null && Current.Kind == JinjaTokenKind.Name && endTokens.Contains(Current.Value)) return body;
                    body.Add(ParseStatement(endTokens));
                    break;
                case JinjaTokenKind.Eof:
                    if (endTokens is not null) throw Fail($"unexpected end of template, expected '{string.Join("' or '", endTokens)}'");
                    return body;
                default:
                    throw Fail($"unexpected {t}");
            }
        }
    }

    private void EndBlock(string name)
    {
        Expect(JinjaTokenKind.Name, name);
        Expect(JinjaTokenKind.BlockEnd);
    }

    private JinjaNode ParseStatement(string[]? outer)
    {
        var t = Current;
        if (t.Kind != JinjaTokenKind.Name) throw Fail("tag name expected");
        switch (t.Value)
        {
            case "if": return ParseIf();
            case "for": return ParseFor();
            case "set": return ParseSet();
            case "macro": return ParseMacro();
            case "call": return ParseCallBlock();
            case "filter": return ParseFilterBlock();
            case "with": return ParseWith();
            case "generation":
            {
                Next();
                Expect(JinjaTokenKind.BlockEnd);
                var body = Subparse(["endgeneration"]);
                EndBlock("endgeneration");
                return new WithNode(t.Line, [], body);
            }

            case "do":
            {
                Next();
                var e = ParseTuple();
                Expect(JinjaTokenKind.BlockEnd);
                return new ExprStatementNode(t.Line, e);
            }

            case "break":
            case "continue":
                Next();
                Expect(JinjaTokenKind.BlockEnd);
                return t.Value == "break" ? new BreakNode(t.Line) : new ContinueNode(t.Line);
            default:
                string hint = outer is null ? string.Empty : $" (expected '{string.Join("' or '", outer)}')";
                throw Fail($"unknown tag '{t.Value}'{hint}");
        }
    }

    private IfNode ParseIf()
    {
        int line = Next().Line;
        var branches = new List<(JinjaExpr, List<JinjaNode>)>();
        List<JinjaNode>? elseBody = null;
        while (true)
        {
            var test = ParseTuple(withCondExpr: false);
            Expect(JinjaTokenKind.BlockEnd);
            var body = Subparse(["elif", "else", "endif"]);
            branches.Add((test, body));
            var tag = Next();
            if (tag.Value == "elif") continue;
            if (tag.Value == "else")
            {
                Expect(JinjaTokenKind.BlockEnd);
                elseBody = Subparse(["endif"]);
                EndBlock("endif");
            }
            else
            {
                Expect(JinjaTokenKind.BlockEnd);
            }

            return new IfNode(line, branches, elseBody);
        }
    }

    private ForNode ParseFor()
    {
        int line = Next().Line;
        var target = ParseTuple(simplified: true, extraEndRules: ["in"]);
        CheckAssignable(target);
        Expect(JinjaTokenKind.Name, "in");
        var iter = ParseTuple(withCondExpr: false, extraEndRules: ["recursive"]);
        JinjaExpr? filter = null;
        if (SkipName("if")) filter = ParseExpression();
        bool recursive = SkipName("recursive");
        Expect(JinjaTokenKind.BlockEnd);
        var body = Subparse(["endfor", "else"]);
        List<JinjaNode>? elseBody = null;
        if (Next().Value == "else")
        {
            Expect(JinjaTokenKind.BlockEnd);
            elseBody = Subparse(["endfor"]);
            EndBlock("endfor");
        }
        else
        {
            Expect(JinjaTokenKind.BlockEnd);
        }

        return new ForNode(line, target, iter, filter, body, elseBody, recursive);
    }

    private void CheckAssignable(JinjaExpr target)
    {
        switch (target)
        {
            case NameExpr n when n.Name is "true" or "false" or "none" or "True" or "False" or "None":
                throw Fail($"cannot assign to '{n.Name}'");
            case NameExpr:
                return;
            case TupleExpr t:
                t.Items.ForEach(CheckAssignable);
                return;
            case AttrExpr { Target: NameExpr }:
                return;
            default:
                throw Fail("cannot assign to this expression");
        }
    }

    private JinjaNode ParseSet()
    {
        int line = Next().Line;
        JinjaExpr target;
        if (Current.Kind == JinjaTokenKind.Name && Peek().IsOp("."))
        {
            var ns = Next();
            Next();
            var attr = Expect(JinjaTokenKind.Name);
            target = new AttrExpr(ns.Line, new NameExpr(ns.Line, ns.Value), attr.Value);
        }
        else
        {
            target = ParseTuple(simplified: true);
        }

        CheckAssignable(target);
        if (SkipOp("="))
        {
            var value = ParseTuple();
            Expect(JinjaTokenKind.BlockEnd);
            return new SetNode(line, target, value);
        }

        var filters = new List<FilterExpr>();
        while (Current.IsOp("|")) filters.Add(ParseOneFilter(null));
        Expect(JinjaTokenKind.BlockEnd);
        var body = Subparse(["endset"]);
        EndBlock("endset");
        return new SetBlockNode(line, target, body, filters);
    }

    private List<(string, JinjaExpr?)> ParseParameters()
    {
        var ps = new List<(string, JinjaExpr?)>();
        ExpectOp("(");
        while (!Current.IsOp(")"))
        {
            if (ps.Count > 0) ExpectOp(",");
            if (Current.IsOp(")")) break;
            var name = Expect(JinjaTokenKind.Name).Value;
            JinjaExpr? def = SkipOp("=") ? ParseExpression() : null;
            ps.Add((name, def));
        }

        ExpectOp(")");
        return ps;
    }

    private MacroNode ParseMacro()
    {
        int line = Next().Line;
        string name = Expect(JinjaTokenKind.Name).Value;
        var ps = ParseParameters();
        Expect(JinjaTokenKind.BlockEnd);
        var body = Subparse(["endmacro"]);
        EndBlock("endmacro");
        return new MacroNode(line, name, ps, body);
    }

    private CallBlockNode ParseCallBlock()
    {
        int line = Next().Line;
        var ps = Current.IsOp("(") ? ParseParameters() : [];
        var call = ParseExpression() as CallExpr ?? throw Fail("expected call");
        Expect(JinjaTokenKind.BlockEnd);
        var body = Subparse(["endcall"]);
        EndBlock("endcall");
        return new CallBlockNode(line, call, ps, body);
    }

    private FilterBlockNode ParseFilterBlock()
    {
        int line = Next().Line;
        var filters = new List<FilterExpr> { ParseOneFilter(null, startInline: true) };
        while (Current.IsOp("|")) filters.Add(ParseOneFilter(null));
        Expect(JinjaTokenKind.BlockEnd);
        var body = Subparse(["endfilter"]);
        EndBlock("endfilter");
        return new FilterBlockNode(line, filters, body);
    }

    private WithNode ParseWith()
    {
        int line = Next().Line;
        var assignments = new List<(JinjaExpr, JinjaExpr)>();
        while (Current.Kind != JinjaTokenKind.BlockEnd)
        {
            if (assignments.Count > 0) ExpectOp(",");
            var target = ParseTuple(simplified: true);
            CheckAssignable(target);
            ExpectOp("=");
            assignments.Add((target, ParseExpression()));
        }

        Expect(JinjaTokenKind.BlockEnd);
        var body = Subparse(["endwith"]);
        EndBlock("endwith");
        return new WithNode(line, assignments, body);
    }

    private bool IsTupleEnd(string[]? extraEndRules)
    {
        var t = Current;
        if (t.Kind is JinjaTokenKind.VariableEnd or JinjaTokenKind.BlockEnd or JinjaTokenKind.Eof || t.IsOp(")")) return true;
        return extraEndRules is not null && t.Kind == JinjaTokenKind.Name && extraEndRules.Contains(t.Value);
    }

    private JinjaExpr ParseTuple(bool simplified = false, bool withCondExpr = true, string[]? extraEndRules = null, bool explicitParens = false)
    {
        int line = Current.Line;
        var items = new List<JinjaExpr>();
        bool isTuple = false;
        while (true)
        {
            if (items.Count > 0) ExpectOp(",");
            if (IsTupleEnd(extraEndRules)) break;
            items.Add(simplified ? ParsePrimary() : ParseExpression(withCondExpr));
            if (Current.IsOp(",")) isTuple = true;
            else break;
        }

        if (!isTuple)
        {
            if (items.Count == 1) return items[0];
            if (!explicitParens) throw Fail($"expected an expression, got {Current}");
        }

        return new TupleExpr(line, items);
    }

    private JinjaExpr ParseExpression(bool withCondExpr = true) => withCondExpr ? ParseCondExpr() : ParseOr();

    private JinjaExpr ParseCondExpr()
    {
        var expr = ParseOr();
        while (Current.IsName("if"))
        {
            int line = Next().Line;
            var test = ParseOr();
            JinjaExpr? otherwise = SkipName("else") ? ParseCondExpr() : null;
            expr = new CondExpr(line, test, expr, otherwise);
        }

        return expr;
    }

    private JinjaExpr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            int line = Next().Line;
            left = new BinaryExpr(line, "or", left, ParseAnd());
        }

        return left;
    }

    private JinjaExpr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            int line = Next().Line;
            left = new BinaryExpr(line, "and", left, ParseNot());
        }

        return left;
    }

    private JinjaExpr ParseNot()
    {
        if (Current.IsName("not"))
        {
            int line = Next().Line;
            return new UnaryExpr(line, "not", ParseNot());
        }

        return ParseCompare();
    }

    private JinjaExpr ParseCompare()
    {
        int line = Current.Line;
        var first = ParseMath1();
        var rest = new List<(string, JinjaExpr)>();
        while (true)
        {
            if (Current.Kind == JinjaTokenKind.Operator && CompareOps.Contains(Current.Value))
            {
                string op = Next().Value;
                rest.Add((op, ParseMath1()));
            }
            else if (Current.IsName("in"))
            {
                Next();
                rest.Add(("in", ParseMath1()));
            }
            else if (Current.IsName("not") && Peek().IsName("in"))
            {
                Next();
                Next();
                rest.Add(("notin", ParseMath1()));
            }
            else
            {
                break;
            }
        }

        return rest.Count == 0 ? first : new CompareExpr(line, first, rest);
    }

    private JinjaExpr ParseMath1()
    {
        var left = ParseConcat();
        while (Current.IsOp("+") || Current.IsOp("-"))
        {
            var op = Next();
            left = new BinaryExpr(op.Line, op.Value, left, ParseConcat());
        }

        return left;
    }

    private JinjaExpr ParseConcat()
    {
        int line = Current.Line;
        var parts = new List<JinjaExpr> { ParseMath2() };
        while (SkipOp("~")) parts.Add(ParseMath2());
        return parts.Count == 1 ? parts[0] : new ConcatExpr(line, parts);
    }

    private JinjaExpr ParseMath2()
    {
        var left = ParsePow();
        while (Current.IsOp("*") || Current.IsOp("/") || Current.IsOp("//") || Current.IsOp("%"))
        {
            var op = Next();
            left = new BinaryExpr(op.Line, op.Value, left, ParsePow());
        }

        return left;
    }

    private JinjaExpr ParsePow()
    {
        var left = ParseUnary();
        while (Current.IsOp("**"))
        {
            var op = Next();
            left = new BinaryExpr(op.Line, "**", left, ParseUnary());
        }

        return left;
    }

    private JinjaExpr ParseUnary(bool withFilter = true)
    {
        JinjaExpr node;
        if (Current.IsOp("-") || Current.IsOp("+"))
        {
            var op = Next();
            node = new UnaryExpr(op.Line, op.Value, ParseUnary(false));
        }
        else
        {
            node = ParsePrimary();
        }

        node = ParsePostfix(node);
        if (withFilter) node = ParseFilterExpr(node);
        return node;
    }

    private JinjaExpr ParsePrimary()
    {
        var t = Current;
        switch (t.Kind)
        {
            case JinjaTokenKind.Name:
                Next();
                return t.Value switch
                {
                    "true" or "True" => new ConstExpr(t.Line, true),
                    "false" or "False" => new ConstExpr(t.Line, false),
                    "none" or "None" => new ConstExpr(t.Line, null),
                    _ => new NameExpr(t.Line, t.Value),
                };
            case JinjaTokenKind.String:
            {
                Next();
                string s = t.Value;
                while (Current.Kind == JinjaTokenKind.String) s += Next().Value;
                return new ConstExpr(t.Line, s);
            }

            case JinjaTokenKind.Integer:
                Next();
                return new ConstExpr(t.Line, long.TryParse(t.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long l) ? (object)l : double.Parse(t.Value, CultureInfo.InvariantCulture));
            case JinjaTokenKind.Float:
                Next();
                return new ConstExpr(t.Line, double.Parse(t.Value, CultureInfo.InvariantCulture));
            case JinjaTokenKind.Operator when t.Value == "(":
            {
                Next();
                var e = ParseTuple(explicitParens: true);
                ExpectOp(")");
                return e;
            }

            case JinjaTokenKind.Operator when t.Value == "[":
            {
                Next();
                var items = new List<JinjaExpr>();
                while (!Current.IsOp("]"))
                {
                    if (items.Count > 0) ExpectOp(",");
                    if (Current.IsOp("]")) break;
                    items.Add(ParseExpression());
                }

                ExpectOp("]");
                return new ListExpr(t.Line, items);
            }

            case JinjaTokenKind.Operator when t.Value == "{":
            {
                Next();
                var items = new List<(JinjaExpr, JinjaExpr)>();
                while (!Current.IsOp("}"))
                {
                    if (items.Count > 0) ExpectOp(",");
                    if (Current.IsOp("}")) break;
                    var key = ParseExpression();
                    ExpectOp(":");
                    items.Add((key, ParseExpression()));
                }

                ExpectOp("}");
                return new DictExpr(t.Line, items);
            }

            default:
                throw Fail($"unexpected {t}");
        }
    }

    private JinjaExpr ParsePostfix(JinjaExpr node)
    {
        while (true)
        {
            if (Current.IsOp(".") || Current.IsOp("[")) node = ParseSubscript(node);
            else if (Current.IsOp("(")) node = new CallExpr(Current.Line, node, ParseCallArgs());
            else return node;
        }
    }

    private JinjaExpr ParseFilterExpr(JinjaExpr node)
    {
        while (true)
        {
            if (Current.IsOp("|")) node = ParseOneFilter(node);
            else if (Current.IsName("is")) node = ParseTest(node);
            else if (Current.IsOp("(")) node = new CallExpr(Current.Line, node, ParseCallArgs());
            else return node;
        }
    }

    private JinjaExpr ParseSubscript(JinjaExpr node)
    {
        var t = Next();
        if (t.Value == ".")
        {
            var attr = Next();
            if (attr.Kind == JinjaTokenKind.Name) return new AttrExpr(t.Line, node, attr.Value);
            if (attr.Kind == JinjaTokenKind.Integer) return new ItemExpr(t.Line, node, new ConstExpr(attr.Line, long.Parse(attr.Value, CultureInfo.InvariantCulture)));
            throw Fail($"expected name or number after '.', got {attr}", attr);
        }

        var keys = new List<JinjaExpr>();
        while (!Current.IsOp("]"))
        {
            if (keys.Count > 0) ExpectOp(",");
            if (Current.IsOp("]")) break;
            keys.Add(ParseSubscribed(node));
        }

        ExpectOp("]");
        if (keys.Count == 1)
        {
            return keys[0] is SliceExpr s ? s : new ItemExpr(t.Line, node, keys[0]);
        }

        return new ItemExpr(t.Line, node, new TupleExpr(t.Line, keys));
    }

    private JinjaExpr ParseSubscribed(JinjaExpr target)
    {
        int line = Current.Line;
        JinjaExpr? start = null;
        if (!Current.IsOp(":"))
        {
            start = ParseExpression();
            if (!Current.IsOp(":")) return start;
        }

        Next();
        JinjaExpr? stop = null, step = null;
        if (!Current.IsOp("]") && !Current.IsOp(",") && !Current.IsOp(":")) stop = ParseExpression();
        if (SkipOp(":"))
        {
            if (!Current.IsOp("]") && !Current.IsOp(",")) step = ParseExpression();
        }

        return new SliceExpr(line, target, start, stop, step);
    }

    private CallArgs ParseCallArgs()
    {
        ExpectOp("(");
        var positional = new List<JinjaExpr>();
        var keywords = new List<(string, JinjaExpr)>();
        JinjaExpr? star = null, starStar = null;
        bool first = true;
        while (!Current.IsOp(")"))
        {
            if (!first) ExpectOp(",");
            first = false;
            if (Current.IsOp(")")) break;
            if (SkipOp("*")) star = ParseExpression();
            else if (SkipOp("**")) starStar = ParseExpression();
            else if (Current.Kind == JinjaTokenKind.Name && Peek().IsOp("="))
            {
                string key = Next().Value;
                Next();
                keywords.Add((key, ParseExpression()));
            }
            else
            {
                if (keywords.Count > 0) throw Fail("positional argument follows keyword argument");
                positional.Add(ParseExpression());
            }
        }

        ExpectOp(")");
        return new CallArgs(positional, keywords, star, starStar);
    }

    private string ParseDottedName()
    {
        string name = Expect(JinjaTokenKind.Name).Value;
        while (Current.IsOp(".") && Peek().Kind == JinjaTokenKind.Name)
        {
            Next();
            name += "." + Next().Value;
        }

        return name;
    }

    private FilterExpr ParseOneFilter(JinjaExpr? node, bool startInline = false)
    {
        int line = Current.Line;
        if (!startInline) ExpectOp("|");
        string name = ParseDottedName();
        var args = Current.IsOp("(") ? ParseCallArgs() : CallArgs.None;
        return new FilterExpr(line, node, name, args);
    }

    private JinjaExpr ParseTest(JinjaExpr node)
    {
        int line = Next().Line;
        bool negated = SkipName("not");
        string name = ParseDottedName();
        CallArgs args = CallArgs.None;
        var c = Current;
        if (c.IsOp("("))
        {
            args = ParseCallArgs();
        }
        else if ((c.Kind is JinjaTokenKind.Name or JinjaTokenKind.String or JinjaTokenKind.Integer or JinjaTokenKind.Float || c.IsOp("(") || c.IsOp("[") || c.IsOp("{"))
                 && !c.IsName("else") && !c.IsName("or") && !c.IsName("and"))
        {
            if (c.IsName("is")) throw Fail("you cannot chain multiple tests with is");
            var arg = ParsePostfix(ParsePrimary());
            args = new CallArgs([arg], [], null, null);
        }

        return new TestExpr(line, node, name, args, negated);
    }
}
