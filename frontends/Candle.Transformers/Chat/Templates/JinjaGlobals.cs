namespace Candle.Transformers.Chat.Templates;

/// <summary>The global functions a chat template sees: Jinja's <c>range</c> (capped as in the sandbox), <c>dict</c>, <c>namespace</c>, <c>cycler</c>, <c>joiner</c>, and transformers' <c>raise_exception</c> and <c>strftime_now</c>.</summary>
internal static class JinjaGlobals
{
    /// <summary>Jinja's sandbox refuses ranges longer than this.</summary>
    public const long MaxRange = 100_000;

    public static void Install(JinjaScope scope, DateTime now)
    {
        scope.Set("range", new BuiltinFunction("range", Range));
        scope.Set("dict", new BuiltinFunction("dict", Dict));
        scope.Set("namespace", new BuiltinFunction("namespace", Namespace));
        scope.Set("joiner", new BuiltinFunction("joiner", a =>
        {
            string sep = a.Get(0, "sep", ", ") as string ?? ", ";
            bool used = false;
            return new BuiltinFunction("joiner", _ =>
            {
                if (used) return sep;
                used = true;
                return string.Empty;
            });
        }));
        scope.Set("cycler", new BuiltinFunction("cycler", a =>
        {
            var items = a.Positional.ToList();
            int pos = 0;
            var ns = new JinjaDict();
            ns.Set("next", new BuiltinFunction("cycler.next", _ =>
            {
                if (items.Count == 0) throw new TemplateException("cycler needs items");
                return items[pos++ % items.Count];
            }));
            return ns;
        }));
        scope.Set("raise_exception", new BuiltinFunction("raise_exception", a =>
            throw new TemplateException(PyOps.Str(a.Get(0, "message"))) { RaisedByTemplate = true }));
        scope.Set("strftime_now", new BuiltinFunction("strftime_now", a =>
            Strftime.Format(now, a.Get(0, "format") as string ?? throw new TemplateException("strftime_now needs a format string"))));
    }

    private static object? Range(JinjaArgs a)
    {
        long start = 0, stop, step = 1;
        var p = a.Positional.Select(x => x switch
        {
            long l => l,
            bool b => b ? 1L : 0L,
            _ => throw new TemplateException($"range() arguments must be integers, not {PyOps.TypeName(x)}"),
        }).ToList();
        switch (p.Count)
        {
            case 1: stop = p[0]; break;
            case 2: start = p[0]; stop = p[1]; break;
            case 3: start = p[0]; stop = p[1]; step = p[2]; break;
            default: throw new TemplateException($"range expected 1 to 3 arguments, got {p.Count}");
        }

        if (step == 0) throw new TemplateException("range() arg 3 must not be zero");
        long count = step > 0 ? Math.Max(0, (stop - start + step - 1) / step) : Math.Max(0, (start - stop - step - 1) / -step);
        if (count > MaxRange) throw new TemplateException($"range too big, the sandbox allows at most {MaxRange} items");
        var list = new List<object?>((int)count);
        for (long i = 0; i < count; i++) list.Add(start + (i * step));
        return list;
    }

    private static object? Dict(JinjaArgs a)
    {
        var d = new JinjaDict();
        if (a.Positional.Count > 0)
        {
            if (a.Positional[0] is JinjaDict src)
            {
                foreach (var kv in src.Items) d.Set(kv.Key, kv.Value);
            }
            else
            {
                foreach (var pair in PyOps.Iterate(a.Positional[0]))
                {
                    var kv = PyOps.ToList(pair);
                    if (kv.Count != 2 || kv[0] is null) throw new TemplateException("dict() sequence elements must be key/value pairs");
                    d.Set(kv[0]!, kv[1]);
                }
            }
        }

        foreach (var kv in a.Keywords) d.Set(kv.Key, kv.Value);
        return d;
    }

    private static object? Namespace(JinjaArgs a)
    {
        var ns = new JinjaNamespace();
        foreach (var arg in a.Positional)
        {
            if (arg is not JinjaDict d) throw new TemplateException("namespace() positional arguments must be mappings");
            foreach (var kv in d.Items) ns.Attributes[PyOps.Str(kv.Key)] = kv.Value;
        }

        foreach (var kv in a.Keywords) ns.Attributes[kv.Key] = kv.Value;
        return ns;
    }
}
