using System.Globalization;
using System.Text;

namespace Candle.Transformers.Chat.Templates;

/// <summary>
/// Jinja 3.1's built-in filters that chat templates use (string, sequence, mapping and number filters,
/// map/select/reject and their attribute forms, sort/dictsort/groupby, indent/center/truncate/wordcount,
/// format, escape) and transformers' <c>tojson</c>.
/// </summary>
internal static class JinjaFilters
{
    public delegate object? Filter(JinjaInterpreter interpreter, object? value, JinjaArgs args);

    public static readonly Dictionary<string, Filter> All = Build();

    private static Dictionary<string, Filter> Build()
    {
        var f = new Dictionary<string, Filter>(StringComparer.Ordinal)
        {
            ["tojson"] = (_, v, a) => ToJson(v, a),
            ["trim"] = (_, v, a) => Strip(Soft(v), a.Get(0, "chars") as string),
            ["upper"] = (_, v, _) => Soft(v).ToUpperInvariant(),
            ["lower"] = (_, v, _) => Soft(v).ToLowerInvariant(),
            ["capitalize"] = (_, v, _) => Soft(v) is var s && s.Length > 0 ? char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant() : string.Empty,
            ["title"] = (_, v, _) => Title(Soft(v)),
            ["string"] = (_, v, _) => PyOps.Str(v),
            ["safe"] = (_, v, _) => v,
            ["e"] = (_, v, _) => Escape(v),
            ["escape"] = (_, v, _) => Escape(v),
            ["forceescape"] = (_, v, _) => Escape(v),
            ["length"] = (_, v, _) => PyOps.Length(v),
            ["count"] = (_, v, _) => PyOps.Length(v),
            ["default"] = Default,
            ["d"] = Default,
            ["first"] = (_, v, _) => PyOps.Iterate(Defined(v)).FirstOrDefault(new JinjaUndefined("no first item, sequence was empty")),
            ["last"] = (_, v, _) => PyOps.ToList(Defined(v)) is var l && l.Count > 0 ? l[^1] : new JinjaUndefined("no last item, sequence was empty"),
            ["list"] = (_, v, _) => PyOps.ToList(v),
            ["join"] = Join,
            ["replace"] = (_, v, a) => Replace(Soft(v), a),
            ["reverse"] = (_, v, _) => v is string s ? new string(s.Reverse().ToArray()) : Enumerable.Reverse(PyOps.ToList(v)).ToList(),
            ["items"] = (_, v, _) => v switch
            {
                JinjaUndefined => new List<object?>(),
                JinjaDict d => d.Items.Select(kv => (object?)new object?[] { kv.Key, kv.Value }).ToList(),
                _ => throw new TemplateException($"can only get item pairs from a mapping, not {PyOps.TypeName(v)}"),
            },
            ["dictsort"] = DictSort,
            ["sort"] = Sort,
            ["unique"] = Unique,
            ["map"] = Map,
            ["select"] = (i, v, a) => Select(i, v, a, keep: true, byAttribute: false),
            ["reject"] = (i, v, a) => Select(i, v, a, keep: false, byAttribute: false),
            ["selectattr"] = (i, v, a) => Select(i, v, a, keep: true, byAttribute: true),
            ["rejectattr"] = (i, v, a) => Select(i, v, a, keep: false, byAttribute: true),
            ["attr"] = (_, v, a) => JinjaMethods.GetAttr(v, a.Get(0, "name") as string ?? string.Empty),
            ["int"] = (_, v, a) => ToInt(v, a),
            ["float"] = (_, v, a) => ToFloat(v, a),
            ["abs"] = (_, v, _) => v switch
            {
                long l => (object)Math.Abs(l),
                double d => Math.Abs(d),
                bool b => b ? 1L : 0L,
                _ => throw new TemplateException($"bad operand type for abs(): '{PyOps.TypeName(v)}'"),
            },
            ["round"] = Round,
            ["sum"] = Sum,
            ["min"] = (_, v, a) => MinMax(v, a, max: false),
            ["max"] = (_, v, a) => MinMax(v, a, max: true),
            ["indent"] = Indent,
            ["center"] = (_, v, a) => JinjaMethods.Center(Soft(v), (int)PyOps.ToDouble(a.Get(0, "width", 80L)), " "),
            ["wordcount"] = (_, v, _) => (long)JinjaMethods.Split(Soft(v), null, -1).Count,
            ["truncate"] = Truncate,
            ["format"] = (_, v, a) => PercentFormat.Format(Soft(v), a.Positional.Count == 1 ? a.Positional[0] : a.Positional.ToArray()),
            ["batch"] = Batch,
            ["slice"] = SliceFilter,
            ["groupby"] = GroupBy,
            ["striptags"] = (_, v, _) => System.Text.RegularExpressions.Regex.Replace(System.Text.RegularExpressions.Regex.Replace(Soft(v), "<[^>]*>", string.Empty), @"\s+", " ").Trim(),
            ["pprint"] = (_, v, _) => PyOps.Repr(v),
        };
        return f;
    }

    private static string Soft(object? v) => PyOps.Str(v);

    private static object? Defined(object? v) => v is JinjaUndefined u ? throw u.Fail() : v;

    private static string Strip(string s, string? chars)
    {
        int start = 0, end = s.Length;
        Func<char, bool> strip = chars is null ? char.IsWhiteSpace : c => chars.Contains(c, StringComparison.Ordinal);
        while (start < end && strip(s[start])) start++;
        while (end > start && strip(s[end - 1])) end--;
        return s[start..end];
    }

    private static string Title(string s)
    {
        // Jinja: upper-case the first character of each word (split on whitespace and - ( { [ <), lower-case the rest.
        var sb = new StringBuilder(s.Length);
        bool start = true;
        foreach (char c in s)
        {
            sb.Append(start ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            start = char.IsWhiteSpace(c) || c is '-' or '(' or '{' or '[' or '<';
        }

        return sb.ToString();
    }

    private static string Escape(object? v)
    {
        var s = Soft(v);
        return s.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal)
            .Replace(">", "&gt;", StringComparison.Ordinal).Replace("\"", "&#34;", StringComparison.Ordinal).Replace("'", "&#39;", StringComparison.Ordinal);
    }

    private static object? ToJson(object? v, JinjaArgs a)
    {
        var indentArg = a.Get(0, "indent");
        int? indent = indentArg switch
        {
            null => null,
            long l => (int)Math.Clamp(l, 0, 64),
            string s => throw new TemplateException($"tojson: string indent '{s}' is not supported"),
            _ => (int)PyOps.ToDouble(indentArg),
        };
        string? itemSep = null, keySep = null;
        if (a.Get(-1, "separators") is IReadOnlyList<object?> seps && seps.Count == 2)
        {
            itemSep = seps[0] as string;
            keySep = seps[1] as string;
        }

        return JinjaJson.Dumps(v, indent, itemSep, keySep, PyOps.Truthy(a.Get(-1, "sort_keys", false)), PyOps.Truthy(a.Get(-1, "ensure_ascii", false)));
    }

    private static object? Default(JinjaInterpreter i, object? v, JinjaArgs a)
    {
        var fallback = a.Get(0, "default_value", string.Empty);
        bool boolean = PyOps.Truthy(a.Get(1, "boolean", false));
        if (v is JinjaUndefined || (boolean && !PyOps.Truthy(v))) return fallback;
        return v;
    }

    private static object? Join(JinjaInterpreter i, object? v, JinjaArgs a)
    {
        string sep = a.Get(0, "d", string.Empty) as string ?? string.Empty;
        var attr = a.Get(1, "attribute");
        var items = PyOps.Iterate(v);
        if (attr is not null) items = items.Select(x => Attribute(x, attr));
        return string.Join(sep, items.Select(PyOps.Str));
    }

    private static string Replace(string s, JinjaArgs a)
    {
        string old = Soft(a.Get(0, "old")), @new = Soft(a.Get(1, "new"));
        var count = a.Get(2, "count");
        var method = JinjaMethods.GetAttr(s, "replace") as IJinjaCallable;
        var args = new List<object?> { old, @new };
        if (count is not null) args.Add(count);
        return (string)method!.Call(new JinjaArgs(args, []))!;
    }

    /// <summary>Jinja's attribute path lookup ("a.b.0"), used by map/sort/selectattr/groupby/sum.</summary>
    private static object? Attribute(object? item, object? path)
    {
        if (path is long idx) return JinjaMethods.GetItem(item, idx);
        foreach (var part in (path as string ?? PyOps.Str(path)).Split('.'))
        {
            if (item is JinjaUndefined) return item;
            item = long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out long n)
                ? JinjaMethods.GetItem(item, n)
                : JinjaMethods.GetItem(item, part);
        }

        return item;
    }

    private static int SortCompare(object? a, object? b, bool caseSensitive)
    {
        if (!caseSensitive && a is string sa && b is string sb) return string.CompareOrdinal(sa.ToLowerInvariant(), sb.ToLowerInvariant());
        return PyOps.Equal(a, b) ? 0 : PyOps.Compare(a, b);
    }

    private static object? Sort(JinjaInterpreter i, object? v, JinjaArgs a)
    {
        bool reverse = PyOps.Truthy(a.Get(0, "reverse", false));
        bool caseSensitive = PyOps.Truthy(a.Get(1, "case_sensitive", false));
        var attr = a.Get(2, "attribute");
        var items = PyOps.ToList(v);
        Func<object?, object?> key = attr is null ? x => x : x => Attribute(x, attr);
        var sorted = items.Select((x, idx) => (x, idx)).ToList();
        sorted.Sort((p, q) =>
        {
            int c = SortCompare(key(p.x), key(q.x), caseSensitive);
            if (reverse) c = -c;
            return c != 0 ? c : p.idx.CompareTo(q.idx);
        });
        return sorted.Select(p => p.x).ToList();
    }

    private static object? DictSort(JinjaInterpreter i, object? v, JinjaArgs a)
    {
        if (v is not JinjaDict d) throw new TemplateException("dictsort needs a mapping");
        bool caseSensitive = PyOps.Truthy(a.Get(0, "case_sensitive", false));
        bool byValue = (a.Get(1, "by", "key") as string) == "value";
        bool reverse = PyOps.Truthy(a.Get(2, "reverse", false));
        var items = d.Items.ToList();
        items.Sort((p, q) =>
        {
            int c = byValue ? SortCompare(p.Value, q.Value, caseSensitive) : SortCompare(p.Key, q.Key, caseSensitive);
            return reverse ? -c : c;
        });
        return items.Select(kv => (object?)new object?[] { kv.Key, kv.Value }).ToList();
    }

    private static object? Unique(JinjaInterpreter i, object? v, JinjaArgs a)
    {
        bool caseSensitive = PyOps.Truthy(a.Get(0, "case_sensitive", false));
        var attr = a.Get(1, "attribute");
        var seen = new List<object?>();
        var result = new List<object?>();
        foreach (var x in PyOps.Iterate(v))
        {
            var key = attr is null ? x : Attribute(x, attr);
            if (!caseSensitive && key is string s) key = s.ToLowerInvariant();
            if (seen.Exists(k => PyOps.Equal(k, key))) continue;
            seen.Add(key);
            result.Add(x);
        }

        return result;
    }

    private static object? Map(JinjaInterpreter i, object? v, JinjaArgs a)
    {
        var items = PyOps.ToList(v);
        var attr = a.Keywords.FirstOrDefault(kv => kv.Key == "attribute");
        if (attr.Key is not null)
        {
            var def = a.Keywords.FirstOrDefault(kv => kv.Key == "default");
            return items.Select(x =>
            {
                var r = Attribute(x, attr.Value);
                return r is JinjaUndefined && def.Key is not null ? def.Value : r;
            }).ToList();
        }

        if (a.Positional.Count == 0) throw new TemplateException("map requires a filter name or attribute=");
        string name = a.Positional[0] as string ?? throw new TemplateException("map: filter name must be a string");
        var rest = new JinjaArgs(a.Positional.Skip(1).ToList(), a.Keywords);
        return items.Select(x => i.CallFilter(name, x, rest)).ToList();
    }

    private static object? Select(JinjaInterpreter i, object? v, JinjaArgs a, bool keep, bool byAttribute)
    {
        var items = PyOps.ToList(v);
        int offset = 0;
        object? attr = null;
        if (byAttribute)
        {
            attr = a.Get(0, "attribute");
            offset = 1;
        }

        string? test = a.Positional.Count > offset ? a.Positional[offset] as string : null;
        var rest = new JinjaArgs(a.Positional.Skip(offset + 1).ToList(), a.Keywords);
        var result = new List<object?>();
        foreach (var x in items)
        {
            var probe = byAttribute ? Attribute(x, attr) : x;
            bool ok = test is null ? PyOps.Truthy(probe) : i.CallTest(test, probe, rest);
            if (ok == keep) result.Add(x);
        }

        return result;
    }

    private static object? ToInt(object? v, JinjaArgs a)
    {
        var fallback = a.Get(0, "default", 0L);
        long radix = a.Get(1, "base", 10L) is long b ? b : 10;
        switch (v)
        {
            case long: return v;
            case bool bb: return bb ? 1L : 0L;
            case double d: return double.IsFinite(d) ? (long)Math.Truncate(d) : fallback;
            case string s:
            {
                s = s.Trim().Replace("_", string.Empty, StringComparison.Ordinal);
                try
                {
                    if (radix == 10 && long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
                    if (radix == 10 && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double dd) && double.IsFinite(dd)) return (long)Math.Truncate(dd);
                    if (radix != 10) return Convert.ToInt64(s, (int)radix);
                }
                catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
                {
                    return fallback;
                }

                return fallback;
            }

            default: return fallback;
        }
    }

    private static object? ToFloat(object? v, JinjaArgs a)
    {
        var fallback = a.Get(0, "default", 0.0);
        return v switch
        {
            long l => (double)l,
            double => v,
            bool b => b ? 1.0 : 0.0,
            string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => d,
            _ => fallback,
        };
    }

    private static object? Round(JinjaInterpreter i, object? v, JinjaArgs a)
    {
        double x = PyOps.ToDouble(v);
        int precision = (int)PyOps.ToDouble(a.Get(0, "precision", 0L));
        string method = a.Get(1, "method", "common") as string ?? "common";
        double scale = Math.Pow(10, precision);
        return method switch
        {
            "common" => precision is >= 0 and <= 15 ? Math.Round(x, precision, MidpointRounding.ToEven) : Math.Round(x * scale, MidpointRounding.ToEven) / scale,
            "floor" => Math.Floor(x * scale) / scale,
            "ceil" => Math.Ceiling(x * scale) / scale,
            _ => throw new TemplateException("method must be common, ceil or floor"),
        };
    }

    private static object? Sum(JinjaInterpreter i, object? v, JinjaArgs a)
    {
        var attr = a.Get(0, "attribute");
        object? total = a.Get(1, "start", 0L);
        foreach (var x in PyOps.Iterate(v)) total = PyOps.Add(total, attr is null ? x : Attribute(x, attr));
        return total;
    }

    private static object? MinMax(object? v, JinjaArgs a, bool max)
    {
        bool caseSensitive = PyOps.Truthy(a.Get(0, "case_sensitive", false));
        var attr = a.Get(1, "attribute");
        object? best = null;
        bool any = false;
        foreach (var x in PyOps.Iterate(v))
        {
            var k = attr is null ? x : Attribute(x, attr);
            if (!any)
            {
                best = x;
                any = true;
                continue;
            }

            var bk = attr is null ? best : Attribute(best, attr);
            int c = SortCompare(k, bk, caseSensitive);
            if (max ? c > 0 : c < 0) best = x;
        }

        return any ? best : new JinjaUndefined($"no {(max ? "largest" : "smallest")} item, sequence was empty");
    }

    private static object? Indent(JinjaInterpreter i, object? v, JinjaArgs a)
    {
        var w = a.Get(0, "width", 4L);
        string pad = w is string ws ? ws : new string(' ', (int)PyOps.ToDouble(w));
        bool first = PyOps.Truthy(a.Get(1, "first", false));
        bool blank = PyOps.Truthy(a.Get(2, "blank", false));
        string s = Soft(v) + "\n";
        var lines = s.Split('\n').ToList();
        lines.RemoveAt(lines.Count - 1);
        var sb = new StringBuilder();
        for (int k = 0; k < lines.Count; k++)
        {
            if (k > 0) sb.Append('\n');
            string line = lines[k];
            bool indent = (k > 0 || first) && (blank || line.Length > 0);
            if (k == 0 && !first)
            {
                sb.Append(line);
                continue;
            }

            if (indent) sb.Append(pad);
            sb.Append(line);
        }

        return sb.ToString();
    }

    private static object? Truncate(JinjaInterpreter i, object? v, JinjaArgs a)
    {
        string s = Soft(v);
        int length = (int)PyOps.ToDouble(a.Get(0, "length", 255L));
        bool killwords = PyOps.Truthy(a.Get(1, "killwords", false));
        string end = a.Get(2, "end", "...") as string ?? "...";
        int leeway = (int)PyOps.ToDouble(a.Get(3, "leeway", 5L) ?? 5L);
        if (s.Length <= length + leeway) return s;
        if (killwords) return s[..Math.Max(length - end.Length, 0)] + end;
        string cut = s[..Math.Max(length - end.Length, 0)];
        int space = cut.LastIndexOf(' ');
        if (space >= 0) cut = cut[..space];
        return cut + end;
    }

    private static object? Batch(JinjaInterpreter i, object? v, JinjaArgs a)
    {
        int size = (int)PyOps.ToDouble(a.Get(0, "linecount"));
        if (size <= 0) throw new TemplateException("batch size must be positive");
        var fill = a.Get(1, "fill_with");
        bool hasFill = a.Has(1, "fill_with");
        var result = new List<object?>();
        var current = new List<object?>();
        foreach (var x in PyOps.Iterate(v))
        {
            current.Add(x);
            if (current.Count == size)
            {
                result.Add(current);
                current = [];
            }
        }

        if (current.Count > 0)
        {
            while (hasFill && current.Count < size) current.Add(fill);
            result.Add(current);
        }

        return result;
    }

    private static object? SliceFilter(JinjaInterpreter i, object? v, JinjaArgs a)
    {
        var items = PyOps.ToList(v);
        int slices = (int)PyOps.ToDouble(a.Get(0, "slices"));
        if (slices <= 0) throw new TemplateException("slice count must be positive");
        var fill = a.Get(1, "fill_with");
        bool hasFill = a.Has(1, "fill_with");
        int per = items.Count / slices, extra = items.Count % slices, offset = 0;
        var result = new List<object?>();
        for (int k = 0; k < slices; k++)
        {
            int start = offset + (k * per);
            if (k < extra) offset++;
            int end = offset + ((k + 1) * per);
            var chunk = items.Skip(start).Take(end - start).ToList();
            if (hasFill && k >= extra) chunk.Add(fill);
            result.Add(chunk);
        }

        return result;
    }

    private static object? GroupBy(JinjaInterpreter i, object? v, JinjaArgs a)
    {
        var attr = a.Get(0, "attribute");
        var items = (List<object?>)Sort(i, v, new JinjaArgs([], [new("attribute", attr)]))!;
        var result = new List<object?>();
        foreach (var x in items)
        {
            var key = Attribute(x, attr);
            if (result.Count > 0 && PyOps.Equal(((object?[])result[^1]!)[0], key))
            {
                ((List<object?>)((object?[])result[^1]!)[1]!).Add(x);
            }
            else
            {
                result.Add(new object?[] { key, new List<object?> { x } });
            }
        }

        return result;
    }
}
