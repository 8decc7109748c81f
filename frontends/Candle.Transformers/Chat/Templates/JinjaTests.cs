namespace Candle.Transformers.Chat.Templates;

/// <summary>Jinja's tests (<c>x is name(args)</c>): defined, none, string, mapping, sequence, number, even, divisibleby, comparisons and the rest of Jinja 3.1's list.</summary>
internal static class JinjaTests
{
    public delegate bool Test(JinjaInterpreter interpreter, object? value, JinjaArgs args);

    public static readonly Dictionary<string, Test> All = Build();

    private static Dictionary<string, Test> Build()
    {
        var t = new Dictionary<string, Test>(StringComparer.Ordinal)
        {
            ["defined"] = (_, v, _) => v is not JinjaUndefined,
            ["undefined"] = (_, v, _) => v is JinjaUndefined,
            ["none"] = (_, v, _) => v is null,
            ["boolean"] = (_, v, _) => v is bool,
            ["true"] = (_, v, _) => v is true,
            ["false"] = (_, v, _) => v is false,
            ["integer"] = (_, v, _) => v is long,
            ["float"] = (_, v, _) => v is double,
            ["number"] = (_, v, _) => v is long or double or bool,
            ["string"] = (_, v, _) => v is string,
            ["mapping"] = (_, v, _) => v is JinjaDict,
            ["iterable"] = (_, v, _) => v is string or IReadOnlyList<object?> or JinjaDict or JinjaUndefined,
            ["sequence"] = (_, v, _) => v is string or IReadOnlyList<object?> or JinjaDict,
            ["callable"] = (_, v, _) => v is IJinjaCallable or JinjaUndefined,
            ["sameas"] = (_, v, a) => SameAs(v, a.Get(0, "other")),
            ["escaped"] = (_, _, _) => false,
            ["odd"] = (_, v, _) => Int(v, "odd") % 2 != 0,
            ["even"] = (_, v, _) => Int(v, "even") % 2 == 0,
            ["divisibleby"] = (_, v, a) => Int(v, "divisibleby") % Int(a.Get(0, "num"), "divisibleby") == 0,
            ["lower"] = (_, v, _) => PyOps.Str(v) is var s && s == s.ToLowerInvariant(),
            ["upper"] = (_, v, _) => PyOps.Str(v) is var s && s == s.ToUpperInvariant(),
            ["in"] = (_, v, a) => PyOps.Contains(a.Get(0, "seq"), v),
            ["filter"] = (_, v, _) => v is string s && JinjaFilters.All.ContainsKey(s),
            ["test"] = (_, v, _) => v is string s && All!.ContainsKey(s),
        };
        Test eq = (_, v, a) => PyOps.Equal(v, a.Get(0, "other"));
        Test ne = (_, v, a) => !PyOps.Equal(v, a.Get(0, "other"));
        Test lt = (_, v, a) => PyOps.Compare(v, a.Get(0, "other")) < 0;
        Test le = (_, v, a) => PyOps.Compare(v, a.Get(0, "other")) <= 0;
        Test gt = (_, v, a) => PyOps.Compare(v, a.Get(0, "other")) > 0;
        Test ge = (_, v, a) => PyOps.Compare(v, a.Get(0, "other")) >= 0;
        foreach (var n in new[] { "eq", "equalto", "==" }) t[n] = eq;
        foreach (var n in new[] { "ne", "!=" }) t[n] = ne;
        foreach (var n in new[] { "lt", "lessthan", "<" }) t[n] = lt;
        foreach (var n in new[] { "le", "<=" }) t[n] = le;
        foreach (var n in new[] { "gt", "greaterthan", ">" }) t[n] = gt;
        foreach (var n in new[] { "ge", ">=" }) t[n] = ge;
        return t;
    }

    private static bool SameAs(object? a, object? b)
    {
        if (a is null || b is null) return a is null && b is null;
        if (a is bool ba && b is bool bb) return ba == bb;
        if (a is long la && b is long lb) return la == lb;
        if (a is string sa && b is string sb) return sa == sb;
        return ReferenceEquals(a, b);
    }

    private static long Int(object? v, string test) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        double d when d == Math.Floor(d) => (long)d,
        JinjaUndefined u => throw u.Fail(),
        _ => throw new TemplateException($"test '{test}' needs an integer, got {PyOps.TypeName(v)}"),
    };
}
