using System.Text;

namespace Candle.Transformers.Chat.Templates;

/// <summary>
/// Runs a parsed template: executes statements into a string and evaluates expressions with Python's semantics.
/// Sandboxed like Jinja's <c>ImmutableSandboxedEnvironment</c>: a template reaches only its data (dict keys,
/// list items, the string/dict/list methods listed in <see cref="JinjaMethods"/>), never .NET members, and the
/// methods that would modify a list or dict fail.
/// </summary>
internal sealed class JinjaInterpreter
{
    private const int MaxDepth = 200;
    private const int MaxOutputChars = 64 << 20;
    private const int MaxValueChars = 16 << 20;
    private const int MaxValueItems = 1 << 20;
    private const long MaxSteps = 2_000_000;
    private int _depth;
    private long _steps;

    public JinjaInterpreter(JinjaScope globals) => Globals = globals;

    public JinjaScope Globals { get; }

    private enum Flow
    {
        Normal,
        Break,
        Continue,
    }

    public string RenderBody(List<JinjaNode> body, JinjaScope scope)
    {
        if (++_depth > MaxDepth) throw new TemplateException($"maximum recursion depth ({MaxDepth}) exceeded");
        try
        {
            var sb = new StringBuilder();
            Exec(body, scope, sb);
            return sb.ToString();
        }
        finally
        {
            _depth--;
        }
    }

    private Flow Exec(List<JinjaNode> nodes, JinjaScope scope, StringBuilder sb)
    {
        foreach (var node in nodes)
        {
            var flow = Exec(node, scope, sb);
            if (flow != Flow.Normal) return flow;
            if (sb.Length > MaxOutputChars) throw new TemplateException("template output exceeds 64M characters");
        }

        return Flow.Normal;
    }

    private Flow Exec(JinjaNode node, JinjaScope scope, StringBuilder sb)
    {
        Step(node.Line);
        try
        {
            return ExecCore(node, scope, sb);
        }
        catch (InvalidCastException e)
        {
            throw new TemplateException($"line {node.Line}: {e.Message}", e);
        }
        catch (OverflowException e)
        {
            throw new TemplateException($"line {node.Line}: integer overflow", e);
        }
    }

    private Flow ExecCore(JinjaNode node, JinjaScope scope, StringBuilder sb)
    {
        switch (node)
        {
            case TextNode t:
                sb.Append(t.Text);
                return Flow.Normal;
            case OutputNode o:
                sb.Append(PyOps.Str(Eval(o.Expr, scope)));
                return Flow.Normal;
            case IfNode i:
                foreach (var (test, body) in i.Branches)
                {
                    if (PyOps.Truthy(Eval(test, scope))) return Exec(body, scope, sb);
                }

                return i.Else is null ? Flow.Normal : Exec(i.Else, scope, sb);
            case ForNode f:
                sb.Append(RunFor(f, Eval(f.Iter, scope), scope, 0));
                return Flow.Normal;
            case SetNode s:
                Assign(s.Target, Eval(s.Value, scope), scope);
                return Flow.Normal;
            case SetBlockNode sbn:
            {
                object? value = RenderBody(sbn.Body, new JinjaScope(scope));
                foreach (var f in sbn.Filters) value = ApplyFilter(f, value, scope);
                Assign(sbn.Target, value, scope);
                return Flow.Normal;
            }

            case MacroNode m:
                scope.Set(m.Name, new JinjaMacro(this, m.Name, m.Parameters, m.Body, scope));
                return Flow.Normal;
            case CallBlockNode c:
            {
                var caller = new JinjaMacro(this, "caller", c.Parameters, c.Body, scope);
                var target = Eval(c.Call.Target, scope);
                var args = EvalArgs(c.Call.Args, scope);
                args.Keywords.Add(new("caller", caller));
                sb.Append(PyOps.Str(Invoke(target, args, c.Call)));
                return Flow.Normal;
            }

            case FilterBlockNode fb:
            {
                object? value = RenderBody(fb.Body, new JinjaScope(scope));
                foreach (var f in fb.Filters) value = ApplyFilter(f, value, scope);
                sb.Append(PyOps.Str(value));
                return Flow.Normal;
            }

            case WithNode w:
            {
                var inner = new JinjaScope(scope);
                foreach (var (target, value) in w.Assignments) Assign(target, Eval(value, scope), inner);
                return Exec(w.Body, inner, sb);
            }

            case ExprStatementNode e:
                Eval(e.Expr, scope);
                return Flow.Normal;
            case BreakNode:
                return Flow.Break;
            case ContinueNode:
                return Flow.Continue;
            default:
                throw new TemplateException($"line {node.Line}: unsupported statement");
        }
    }

    /// <summary>Counts one statement, expression or loop iteration against the sandbox's budget of work.</summary>
    private void Step(int line)
    {
        if (++_steps > MaxSteps)
        {
            throw new TemplateException($"line {line}: the template ran more than {MaxSteps} steps, the sandbox's limit");
        }
    }

    private string RunFor(ForNode f, object? iterable, JinjaScope scope, int depth0)
    {
        var items = PyOps.ToList(iterable);
        if (f.Filter is not null)
        {
            var kept = new List<object?>();
            foreach (var item in items)
            {
                var probe = new JinjaScope(scope);
                Assign(f.Target, item, probe);
                if (PyOps.Truthy(Eval(f.Filter, probe))) kept.Add(item);
            }

            items = kept;
        }

        var sb = new StringBuilder();
        if (items.Count == 0)
        {
            if (f.Else is not null) Exec(f.Else, new JinjaScope(scope), sb);
            return sb.ToString();
        }

        if (++_depth > MaxDepth) throw new TemplateException($"maximum recursion depth ({MaxDepth}) exceeded");
        try
        {
            Func<object?, int, string>? recurse = f.Recursive ? (next, d) => RunFor(f, next, scope, d) : null;
            var loop = new JinjaLoop(items, depth0, recurse);
            for (int i = 0; i < items.Count; i++)
            {
                Step(f.Line);
                loop.Index0 = i;
                var inner = new JinjaScope(scope);
                inner.Set("loop", loop);
                Assign(f.Target, items[i], inner);
                if (Exec(f.Body, inner, sb) == Flow.Break) break;
            }
        }
        finally
        {
            _depth--;
        }

        return sb.ToString();
    }

    private void Assign(JinjaExpr target, object? value, JinjaScope scope)
    {
        switch (target)
        {
            case NameExpr n:
                scope.Set(n.Name, value);
                break;
            case TupleExpr t:
            {
                var values = PyOps.ToList(value);
                if (values.Count != t.Items.Count)
                {
                    throw new TemplateException(values.Count > t.Items.Count
                        ? $"line {t.Line}: too many values to unpack (expected {t.Items.Count})"
                        : $"line {t.Line}: not enough values to unpack (expected {t.Items.Count}, got {values.Count})");
                }

                for (int i = 0; i < values.Count; i++) Assign(t.Items[i], values[i], scope);
                break;
            }

            case AttrExpr { Target: NameExpr ns } a:
                if (!scope.TryGet(ns.Name, out var obj) || obj is not JinjaNamespace space)
                {
                    throw new TemplateException($"line {a.Line}: cannot assign attribute on non-namespace object '{ns.Name}'");
                }

                space.Attributes[a.Attribute] = value;
                break;
            default:
                throw new TemplateException($"line {target.Line}: cannot assign to this expression");
        }
    }

    public object? Eval(JinjaExpr e, JinjaScope scope)
    {
        // Every value an expression makes is bounded, so doubling a string or list in a loop ends in a template
        // error instead of exhausting memory.
        Step(e.Line);
        object? value = EvalCore(e, scope);
        if (value is string { Length: > MaxValueChars } big)
        {
            throw new TemplateException($"line {e.Line}: a string of {big.Length} characters exceeds the sandbox's limit of {MaxValueChars}");
        }

        if (value is List<object?> { Count: > MaxValueItems } list)
        {
            throw new TemplateException($"line {e.Line}: a list of {list.Count} items exceeds the sandbox's limit of {MaxValueItems}");
        }

        return value;
    }

    private object? EvalCore(JinjaExpr e, JinjaScope scope)
    {
        switch (e)
        {
            case ConstExpr c: return c.Value;
            case NameExpr n: return scope.TryGet(n.Name, out var v) ? v : JinjaUndefined.Name(n.Name);
            case ListExpr l: return l.Items.Select(x => Eval(x, scope)).ToList();
            case TupleExpr t: return t.Items.Select(x => Eval(x, scope)).ToArray();
            case DictExpr d:
            {
                var dict = new JinjaDict();
                foreach (var (k, val) in d.Items)
                {
                    var key = Eval(k, scope) ?? throw new TemplateException($"line {d.Line}: dict keys cannot be none here");
                    if (key is JinjaUndefined ku) throw ku.Fail();
                    dict.Set(key, Eval(val, scope));
                }

                return dict;
            }

            case AttrExpr a: return JinjaMethods.GetAttr(Eval(a.Target, scope), a.Attribute);
            case ItemExpr i: return JinjaMethods.GetItem(Eval(i.Target, scope), Eval(i.Key, scope));
            case SliceExpr s:
                return JinjaMethods.Slice(
                    Eval(s.Target, scope),
                    s.Start is null ? null : Eval(s.Start, scope),
                    s.Stop is null ? null : Eval(s.Stop, scope),
                    s.Step is null ? null : Eval(s.Step, scope));
            case CallExpr call: return Invoke(Eval(call.Target, scope), EvalArgs(call.Args, scope), call);
            case FilterExpr f: return ApplyFilter(f, f.Target is null ? null : Eval(f.Target, scope), scope);
            case TestExpr t:
            {
                if (!JinjaTests.All.TryGetValue(t.Name, out var test)) throw new TemplateException($"line {t.Line}: no test named '{t.Name}'");
                bool r = test(this, Eval(t.Target, scope), EvalArgs(t.Args, scope));
                return t.Negated ? !r : r;
            }

            case UnaryExpr u:
            {
                var operand = Eval(u.Operand, scope);
                return u.Op switch
                {
                    "not" => !PyOps.Truthy(operand),
                    "-" => PyOps.Negate(operand),
                    _ => operand is JinjaUndefined ou ? throw ou.Fail() : PyOps.IsNumber(operand) ? operand is bool b ? (b ? 1L : 0L) : operand : throw new TemplateException($"line {u.Line}: bad operand type for unary +: '{PyOps.TypeName(operand)}'"),
                };
            }

            case BinaryExpr b: return EvalBinary(b, scope);
            case CompareExpr c:
            {
                var left = Eval(c.First, scope);
                foreach (var (op, rightExpr) in c.Rest)
                {
                    var right = Eval(rightExpr, scope);
                    bool ok = op switch
                    {
                        "==" => PyOps.Equal(left, right),
                        "!=" => !PyOps.Equal(left, right),
                        "<" => PyOps.Compare(left, right) < 0,
                        "<=" => PyOps.Compare(left, right) <= 0,
                        ">" => PyOps.Compare(left, right) > 0,
                        ">=" => PyOps.Compare(left, right) >= 0,
                        "in" => PyOps.Contains(right, left),
                        "notin" => !PyOps.Contains(right, left),
                        _ => throw new TemplateException($"line {c.Line}: unknown comparison {op}"),
                    };
                    if (!ok) return false;
                    left = right;
                }

                return true;
            }

            case ConcatExpr cc: return string.Concat(cc.Parts.Select(p => PyOps.Str(Eval(p, scope))));
            case CondExpr ce:
                if (PyOps.Truthy(Eval(ce.Test, scope))) return Eval(ce.Then, scope);
                return ce.Else is null ? new JinjaUndefined("the inline if-expression evaluated to false and no else section was defined") : Eval(ce.Else, scope);
            default:
                throw new TemplateException($"line {e.Line}: unsupported expression");
        }
    }

    private object? EvalBinary(BinaryExpr b, JinjaScope scope)
    {
        if (b.Op == "and")
        {
            var l = Eval(b.Left, scope);
            return PyOps.Truthy(l) ? Eval(b.Right, scope) : l;
        }

        if (b.Op == "or")
        {
            var l = Eval(b.Left, scope);
            return PyOps.Truthy(l) ? l : Eval(b.Right, scope);
        }

        var left = Eval(b.Left, scope);
        var right = Eval(b.Right, scope);
        try
        {
            return b.Op switch
            {
                "+" => PyOps.Add(left, right),
                "-" => PyOps.Subtract(left, right),
                "*" => PyOps.Multiply(left, right),
                "/" => PyOps.Divide(left, right),
                "//" => PyOps.FloorDivide(left, right),
                "%" => PyOps.Modulo(left, right),
                "**" => PyOps.Power(left, right),
                _ => throw new TemplateException($"unknown operator {b.Op}"),
            };
        }
        catch (TemplateException ex) when (!ex.RaisedByTemplate && !ex.Message.StartsWith("line ", StringComparison.Ordinal))
        {
            throw new TemplateException($"line {b.Line}: {ex.Message}", ex);
        }
    }

    public JinjaArgs EvalArgs(CallArgs a, JinjaScope scope)
    {
        var positional = a.Positional.Select(x => Eval(x, scope)).ToList();
        if (a.StarArgs is not null) positional.AddRange(PyOps.Iterate(Eval(a.StarArgs, scope)));
        var keywords = a.Keywords.Select(k => new KeyValuePair<string, object?>(k.Name, Eval(k.Value, scope))).ToList();
        if (a.StarKwargs is not null)
        {
            if (Eval(a.StarKwargs, scope) is not JinjaDict d) throw new TemplateException("argument after ** must be a mapping");
            foreach (var kv in d.Items) keywords.Add(new(PyOps.Str(kv.Key), kv.Value));
        }

        return new JinjaArgs(positional, keywords);
    }

    private object? Invoke(object? target, JinjaArgs args, CallExpr call)
    {
        return target switch
        {
            IJinjaCallable c => c.Call(args),
            JinjaUndefined u => throw new TemplateException($"line {call.Line}: {u.Hint}"),
            _ => throw new TemplateException($"line {call.Line}: '{PyOps.TypeName(target)}' object is not callable"),
        };
    }

    private object? ApplyFilter(FilterExpr f, object? value, JinjaScope scope)
    {
        if (!JinjaFilters.All.TryGetValue(f.Name, out var filter)) throw new TemplateException($"line {f.Line}: no filter named '{f.Name}'");
        return filter(this, value, EvalArgs(f.Args, scope));
    }

    /// <summary>Applies a filter by name (for <c>map('name')</c> and friends).</summary>
    public object? CallFilter(string name, object? value, JinjaArgs args)
    {
        if (!JinjaFilters.All.TryGetValue(name, out var filter)) throw new TemplateException($"no filter named '{name}'");
        return filter(this, value, args);
    }

    /// <summary>Applies a test by name (for <c>select('name')</c> and friends).</summary>
    public bool CallTest(string name, object? value, JinjaArgs args)
    {
        if (!JinjaTests.All.TryGetValue(name, out var test)) throw new TemplateException($"no test named '{name}'");
        return test(this, value, args);
    }
}
