namespace Candle.Transformers.Chat.Templates;

/// <summary>A macro (or a call block's <c>caller</c>): binds arguments to its parameters in a fresh frame over the frame it was defined in and returns its rendered body.</summary>
internal sealed class JinjaMacro : IJinjaCallable
{
    private readonly JinjaInterpreter _interpreter;
    private readonly List<(string Name, JinjaExpr? Default)> _parameters;
    private readonly List<JinjaNode> _body;
    private readonly JinjaScope _closure;

    public JinjaMacro(JinjaInterpreter interpreter, string name, List<(string Name, JinjaExpr? Default)> parameters, List<JinjaNode> body, JinjaScope closure)
    {
        _interpreter = interpreter;
        Name = name;
        _parameters = parameters;
        _body = body;
        _closure = closure;
    }

    public string Name { get; }

    public object? Call(JinjaArgs args)
    {
        var scope = new JinjaScope(_closure);
        var bound = new bool[_parameters.Count];
        for (int i = 0; i < Math.Min(args.Positional.Count, _parameters.Count); i++)
        {
            scope.Set(_parameters[i].Name, args.Positional[i]);
            bound[i] = true;
        }

        scope.Set("varargs", args.Positional.Skip(_parameters.Count).ToArray());
        var kwargs = new JinjaDict();
        foreach (var kv in args.Keywords)
        {
            int idx = _parameters.FindIndex(p => p.Name == kv.Key);
            if (idx >= 0)
            {
                if (bound[idx]) throw new TemplateException($"macro '{Name}' got multiple values for argument '{kv.Key}'");
                scope.Set(kv.Key, kv.Value);
                bound[idx] = true;
            }
            else if (kv.Key == "caller")
            {
                scope.Set("caller", kv.Value);
            }
            else
            {
                kwargs.Set(kv.Key, kv.Value);
            }
        }

        scope.Set("kwargs", kwargs);
        for (int i = 0; i < _parameters.Count; i++)
        {
            if (bound[i]) continue;
            var p = _parameters[i];
            scope.Set(p.Name, p.Default is null ? new JinjaUndefined($"parameter '{p.Name}' was not provided") : _interpreter.Eval(p.Default, scope));
        }

        return _interpreter.RenderBody(_body, scope);
    }
}
