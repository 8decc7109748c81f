using System.Globalization;
using System.Text;

namespace Candle.Transformers.Chat.Templates;

/// <summary>
/// Attribute and item lookup (<c>a.b</c> tries an attribute then a key, <c>a['b']</c> a key then an attribute,
/// as Jinja does), slicing, and the Python methods templates call on strings, dicts and lists. Anything else is
/// undefined; list and dict methods that would modify the value are refused, as in Jinja's immutable sandbox.
/// </summary>
internal static class JinjaMethods
{
    private static readonly HashSet<string> UnsafeListMethods = ["append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "__setitem__"];
    private static readonly HashSet<string> UnsafeDictMethods = ["update", "pop", "popitem", "setdefault", "clear"];

    public static object? GetAttr(object? obj, string name)
    {
        switch (obj)
        {
            case JinjaUndefined u: throw u.Fail();
            case JinjaDict d:
                return (object?)DictMethod(d, name) ?? (d.TryGet(name, out var v) ? v : JinjaUndefined.Attribute(obj, name));
            case string s: return (object?)StringMethod(s, name) ?? JinjaUndefined.Attribute(obj, name);
            case List<object?> l: return (object?)ListMethod(l, name) ?? JinjaUndefined.Attribute(obj, name);
            case object?[] t: return (object?)ListMethod(t, name) ?? JinjaUndefined.Attribute(obj, name);
            case JinjaNamespace ns: return ns.Attributes.TryGetValue(name, out var nv) ? nv : JinjaUndefined.Attribute(obj, name);
            case JinjaLoop loop: return loop.GetAttribute(name);
            default: return JinjaUndefined.Attribute(obj, name);
        }
    }

    public static object? GetItem(object? obj, object? key)
    {
        switch (obj)
        {
            case JinjaUndefined u: throw u.Fail();
            case JinjaDict d:
                if (d.TryGet(key, out var v)) return v;
                return key is string ks ? ((object?)DictMethod(d, ks) ?? JinjaUndefined.Attribute(obj, ks)) : new JinjaUndefined($"'dict object' has no attribute {PyOps.Repr(key)}");
            case IReadOnlyList<object?> list when key is long or bool:
            {
                long i = key is bool b ? (b ? 1 : 0) : (long)key;
                if (i < 0) i += list.Count;
                return i >= 0 && i < list.Count ? list[(int)i] : new JinjaUndefined($"{PyOps.TypeName(obj)} object has no element {key}");
            }

            case string s when key is long or bool:
            {
                long i = key is bool b ? (b ? 1 : 0) : (long)key;
                if (i < 0) i += s.Length;
                return i >= 0 && i < s.Length ? s[(int)i].ToString() : new JinjaUndefined($"str object has no element {key}");
            }

            default:
                return key is string name ? GetAttr(obj, name) : new JinjaUndefined($"'{PyOps.TypeName(obj)} object' has no attribute {PyOps.Repr(key)}");
        }
    }

    public static object? Slice(object? obj, object? start, object? stop, object? step)
    {
        if (obj is JinjaUndefined u) throw u.Fail();
        int length = obj switch
        {
            string s => s.Length,
            IReadOnlyList<object?> l => l.Count,
            _ => throw new TemplateException($"'{PyOps.TypeName(obj)}' object is not subscriptable"),
        };
        var indices = SliceIndices(length, start, stop, step);
        if (obj is string str)
        {
            var sb = new StringBuilder();
            foreach (int i in indices) sb.Append(str[i]);
            return sb.ToString();
        }

        var list = (IReadOnlyList<object?>)obj;
        var result = indices.Select(i => list[i]).ToList();
        return obj is object?[] ? result.ToArray() : result;
    }

    private static long? SliceIndex(object? v) => v switch
    {
        null => null,
        long l => l,
        bool b => b ? 1 : 0,
        JinjaUndefined => null,
        _ => throw new TemplateException("slice indices must be integers or None"),
    };

    /// <summary>The indices Python's <c>slice(start, stop, step).indices(length)</c> walks.</summary>
    public static List<int> SliceIndices(int length, object? start, object? stop, object? step)
    {
        long st = SliceIndex(step) ?? 1;
        if (st == 0) throw new TemplateException("slice step cannot be zero");
        long lo, hi;
        if (st > 0)
        {
            lo = Clamp(SliceIndex(start) ?? 0, length, 0, length);
            hi = Clamp(SliceIndex(stop) ?? length, length, 0, length);
        }
        else
        {
            lo = Clamp(SliceIndex(start) ?? length - 1, length, -1, length - 1);
            hi = Clamp(SliceIndex(stop) ?? -length - 1, length, -1, length - 1);
        }

        var result = new List<int>();
        if (st > 0)
        {
            for (long i = lo; i < hi; i += st) result.Add((int)i);
        }
        else
        {
            for (long i = lo; i > hi; i += st) result.Add((int)i);
        }

        return result;
    }

    private static long Clamp(long index, int length, long min, long max)
    {
        if (index < 0) index += length;
        return Math.Min(Math.Max(index, min), max);
    }

    private static BuiltinFunction Unsafe(object obj, string name) =>
        new($"{PyOps.TypeName(obj)}.{name}", _ => throw new TemplateException($"access to attribute '{name}' of '{PyOps.TypeName(obj)}' object is unsafe."));

    private static BuiltinFunction? DictMethod(JinjaDict d, string name) => name switch
    {
        "items" => new("dict.items", _ => d.Items.Select(kv => (object?)new object?[] { kv.Key, kv.Value }).ToList()),
        "keys" => new("dict.keys", _ => d.Keys.Cast<object?>().ToList()),
        "values" => new("dict.values", _ => d.Values.ToList()),
        "get" => new("dict.get", a => d.TryGet(a.Get(0, "key"), out var v) ? v : a.Get(1, "default")),
        "copy" => new("dict.copy", _ =>
        {
            var c = new JinjaDict();
            foreach (var kv in d.Items) c.Set(kv.Key, kv.Value);
            return c;
        }),
        _ when UnsafeDictMethods.Contains(name) => Unsafe(d, name),
        _ => null,
    };

    private static BuiltinFunction? ListMethod(IReadOnlyList<object?> l, string name) => name switch
    {
        "index" => new("list.index", a =>
        {
            var x = a.Get(0, "value");
            for (int i = 0; i < l.Count; i++)
            {
                if (PyOps.Equal(l[i], x)) return (long)i;
            }

            throw new TemplateException($"{PyOps.Repr(x)} is not in list");
        }),
        "count" => new("list.count", a => (long)l.Count(x => PyOps.Equal(x, a.Get(0, "value")))),
        "copy" when l is List<object?> list => new("list.copy", _ => new List<object?>(list)),
        _ when l is List<object?> && UnsafeListMethods.Contains(name) => Unsafe(l, name),
        _ => null,
    };

    private static string? CharsArg(JinjaArgs a, string method)
    {
        var c = a.Get(0, "chars");
        return c switch
        {
            null => null,
            string s => s,
            _ => throw new TemplateException($"{method} arg must be None or str"),
        };
    }

    private static string Strip(string s, string? chars, bool left, bool right)
    {
        int start = 0, end = s.Length;
        Func<char, bool> strip = chars is null ? char.IsWhiteSpace : c => chars.Contains(c, StringComparison.Ordinal);
        if (left) while (start < end && strip(s[start])) start++;
        if (right) while (end > start && strip(s[end - 1])) end--;
        return s[start..end];
    }

    private static string Arg(JinjaArgs a, int i, string name, string method) =>
        a.Get(i, name) as string ?? throw new TemplateException($"{method}() argument '{name}' must be str, not {PyOps.TypeName(a.Get(i, name))}");

    private static long IntArg(JinjaArgs a, int i, string name, long fallback)
    {
        var v = a.Get(i, name);
        return v switch
        {
            null => fallback,
            long l => l,
            bool b => b ? 1 : 0,
            _ => throw new TemplateException($"'{name}' must be an integer"),
        };
    }

    private static bool Affix(string s, object? arg, bool prefix)
    {
        if (arg is object?[] options) return options.Any(o => Affix(s, o, prefix));
        if (arg is not string t) throw new TemplateException($"{(prefix ? "startswith" : "endswith")} first arg must be str or a tuple of str");
        return prefix ? s.StartsWith(t, StringComparison.Ordinal) : s.EndsWith(t, StringComparison.Ordinal);
    }

    private static BuiltinFunction? StringMethod(string s, string name) => name switch
    {
        "strip" => new("str.strip", a => Strip(s, CharsArg(a, name), true, true)),
        "lstrip" => new("str.lstrip", a => Strip(s, CharsArg(a, name), true, false)),
        "rstrip" => new("str.rstrip", a => Strip(s, CharsArg(a, name), false, true)),
        "upper" => new("str.upper", _ => s.ToUpperInvariant()),
        "lower" => new("str.lower", _ => s.ToLowerInvariant()),
        "title" => new("str.title", _ => PyTitle(s)),
        "capitalize" => new("str.capitalize", _ => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant()),
        "swapcase" => new("str.swapcase", _ => new string(s.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)).ToArray())),
        "startswith" => new("str.startswith", a => Affix(s, a.Get(0, "prefix"), true)),
        "endswith" => new("str.endswith", a => Affix(s, a.Get(0, "suffix"), false)),
        "split" => new("str.split", a => Split(s, a.Get(0, "sep") as string, IntArg(a, 1, "maxsplit", -1))),
        "rsplit" => new("str.rsplit", a => RSplit(s, a.Get(0, "sep") as string, IntArg(a, 1, "maxsplit", -1))),
        "splitlines" => new("str.splitlines", a => SplitLines(s, PyOps.Truthy(a.Get(0, "keepends", false)))),
        "replace" => new("str.replace", a => Replace(s, Arg(a, 0, "old", name), Arg(a, 1, "new", name), IntArg(a, 2, "count", -1))),
        "join" => new("str.join", a => string.Join(s, PyOps.Iterate(a.Get(0, "iterable")).Select(x => x as string ?? throw new TemplateException($"sequence item: expected str instance, {PyOps.TypeName(x)} found")))),
        "find" => new("str.find", a => (long)s.IndexOf(Arg(a, 0, "sub", name), StringComparison.Ordinal)),
        "rfind" => new("str.rfind", a => (long)s.LastIndexOf(Arg(a, 0, "sub", name), StringComparison.Ordinal)),
        "index" => new("str.index", a =>
        {
            int i = s.IndexOf(Arg(a, 0, "sub", name), StringComparison.Ordinal);
            return i >= 0 ? (long)i : throw new TemplateException("substring not found");
        }),
        "count" => new("str.count", a => (long)CountOf(s, Arg(a, 0, "sub", name))),
        "isdigit" => new("str.isdigit", _ => s.Length > 0 && s.All(char.IsDigit)),
        "isnumeric" => new("str.isnumeric", _ => s.Length > 0 && s.All(char.IsDigit)),
        "isdecimal" => new("str.isdecimal", _ => s.Length > 0 && s.All(char.IsDigit)),
        "isalpha" => new("str.isalpha", _ => s.Length > 0 && s.All(char.IsLetter)),
        "isalnum" => new("str.isalnum", _ => s.Length > 0 && s.All(char.IsLetterOrDigit)),
        "isspace" => new("str.isspace", _ => s.Length > 0 && s.All(char.IsWhiteSpace)),
        "isupper" => new("str.isupper", _ => s.Any(char.IsLetter) && !s.Any(char.IsLower)),
        "islower" => new("str.islower", _ => s.Any(char.IsLetter) && !s.Any(char.IsUpper)),
        "istitle" => new("str.istitle", _ => s.Any(char.IsLetter) && PyTitle(s) == s),
        "removeprefix" => new("str.removeprefix", a =>
        {
            string p = Arg(a, 0, "prefix", name);
            return s.StartsWith(p, StringComparison.Ordinal) ? s[p.Length..] : s;
        }),
        "removesuffix" => new("str.removesuffix", a =>
        {
            string p = Arg(a, 0, "suffix", name);
            return p.Length > 0 && s.EndsWith(p, StringComparison.Ordinal) ? s[..^p.Length] : s;
        }),
        "partition" => new("str.partition", a =>
        {
            string sep = Arg(a, 0, "sep", name);
            int i = s.IndexOf(sep, StringComparison.Ordinal);
            return i < 0 ? new object?[] { s, string.Empty, string.Empty } : new object?[] { s[..i], sep, s[(i + sep.Length)..] };
        }),
        "rpartition" => new("str.rpartition", a =>
        {
            string sep = Arg(a, 0, "sep", name);
            int i = s.LastIndexOf(sep, StringComparison.Ordinal);
            return i < 0 ? new object?[] { string.Empty, string.Empty, s } : new object?[] { s[..i], sep, s[(i + sep.Length)..] };
        }),
        "zfill" => new("str.zfill", a =>
        {
            int w = (int)IntArg(a, 0, "width", 0);
            if (s.Length >= w) return s;
            bool sign = s.Length > 0 && (s[0] == '-' || s[0] == '+');
            return sign ? s[0] + s[1..].PadLeft(w - 1, '0') : s.PadLeft(w, '0');
        }),
        "center" => new("str.center", a => Center(s, (int)IntArg(a, 0, "width", 0), a.Get(1, "fillchar") as string ?? " ")),
        "ljust" => new("str.ljust", a => s.PadRight((int)IntArg(a, 0, "width", 0), (a.Get(1, "fillchar") as string ?? " ")[0])),
        "rjust" => new("str.rjust", a => s.PadLeft((int)IntArg(a, 0, "width", 0), (a.Get(1, "fillchar") as string ?? " ")[0])),
        "format" => new("str.format", a => BraceFormat(s, a)),
        _ => null,
    };

    public static string Center(string s, int width, string fill)
    {
        if (width <= s.Length) return s;
        int total = width - s.Length;
        int left = (total / 2) + (total & width & 1);
        return new string(fill[0], left) + s + new string(fill[0], total - left);
    }

    public static string PyTitle(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool prevCased = false;
        foreach (char c in s)
        {
            bool cased = char.IsLetter(c);
            sb.Append(cased ? (prevCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)) : c);
            prevCased = cased;
        }

        return sb.ToString();
    }

    private static int CountOf(string s, string sub)
    {
        if (sub.Length == 0) return s.Length + 1;
        int n = 0;
        for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    private static string Replace(string s, string old, string @new, long count)
    {
        if (count < 0) return old.Length == 0 ? InsertBetween(s, @new, long.MaxValue) : s.Replace(old, @new, StringComparison.Ordinal);
        if (old.Length == 0) return InsertBetween(s, @new, count);
        var sb = new StringBuilder();
        int pos = 0;
        for (long n = 0; n < count; n++)
        {
            int i = s.IndexOf(old, pos, StringComparison.Ordinal);
            if (i < 0) break;
            sb.Append(s, pos, i - pos).Append(@new);
            pos = i + old.Length;
        }

        return sb.Append(s, pos, s.Length - pos).ToString();
    }

    private static string InsertBetween(string s, string insert, long count)
    {
        var sb = new StringBuilder();
        long n = 0;
        for (int i = 0; i <= s.Length; i++)
        {
            if (n++ < count) sb.Append(insert);
            if (i < s.Length) sb.Append(s[i]);
        }

        return sb.ToString();
    }

    public static List<object?> Split(string s, string? sep, long maxsplit)
    {
        var result = new List<object?>();
        if (sep is null)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
                if (i >= s.Length) break;
                if (maxsplit >= 0 && result.Count >= maxsplit)
                {
                    result.Add(s[i..]);
                    break;
                }

                int start = i;
                while (i < s.Length && !char.IsWhiteSpace(s[i])) i++;
                result.Add(s[start..i]);
            }

            return result;
        }

        if (sep.Length == 0) throw new TemplateException("empty separator");
        int pos = 0;
        while (maxsplit < 0 || result.Count < maxsplit)
        {
            int i = s.IndexOf(sep, pos, StringComparison.Ordinal);
            if (i < 0) break;
            result.Add(s[pos..i]);
            pos = i + sep.Length;
        }

        result.Add(s[pos..]);
        return result;
    }

    private static List<object?> RSplit(string s, string? sep, long maxsplit)
    {
        if (maxsplit < 0) return Split(s, sep, -1);
        if (sep is null)
        {
            var parts = Split(s, null, -1);
            if (parts.Count <= maxsplit + 1) return parts;
            // Keep the leading text (with its inner whitespace) as one piece.
            var tail = parts.Skip(parts.Count - (int)maxsplit).ToList();
            int cut = s.TrimEnd().Length;
            for (int k = 0; k < maxsplit; k++)
            {
                cut = s.LastIndexOf((string)tail[tail.Count - 1 - k]!, cut - 1, StringComparison.Ordinal);
                cut = Math.Max(cut, 0);
            }

            var head = s[..cut].Trim();
            return [head, .. tail];
        }

        var result = new List<object?>();
        int end = s.Length;
        while (result.Count < maxsplit)
        {
            int i = end - sep.Length >= 0 ? s.LastIndexOf(sep, end - 1, StringComparison.Ordinal) : -1;
            if (i < 0 || i + sep.Length > end) break;
            result.Insert(0, s[(i + sep.Length)..end]);
            end = i;
        }

        result.Insert(0, s[..end]);
        return result;
    }

    private static List<object?> SplitLines(string s, bool keepEnds)
    {
        var result = new List<object?>();
        int start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c is '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')
            {
                int end = i;
                if (c == '\r' && i + 1 < s.Length && s[i + 1] == '\n') i++;
                result.Add(keepEnds ? s[start..(i + 1)] : s[start..end]);
                start = i + 1;
            }
        }

        if (start < s.Length) result.Add(s[start..]);
        return result;
    }

    /// <summary>Python's <c>str.format</c> for plain fields: <c>{}</c>, <c>{0}</c>, <c>{name}</c>, <c>{{</c>/<c>}}</c>, <c>!r</c>/<c>!s</c>.</summary>
    private static string BraceFormat(string s, JinjaArgs a)
    {
        var sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '{' && i + 1 < s.Length && s[i + 1] == '{')
            {
                sb.Append('{');
                i++;
                continue;
            }

            if (c == '}' && i + 1 < s.Length && s[i + 1] == '}')
            {
                sb.Append('}');
                i++;
                continue;
            }

            if (c != '{')
            {
                sb.Append(c);
                continue;
            }

            int close = s.IndexOf('}', i);
            if (close < 0) throw new TemplateException("Single '{' encountered in format string");
            string field = s[(i + 1)..close];
            i = close;
            string conv = string.Empty;
            int bang = field.IndexOf('!', StringComparison.Ordinal);
            if (bang >= 0)
            {
                conv = field[(bang + 1)..];
                field = field[..bang];
            }

            if (field.Contains(':', StringComparison.Ordinal)) throw new TemplateException("format specs in str.format are not supported");
            object? value;
            if (field.Length == 0) value = a.Get(auto++, "\0");
            else if (int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out int idx)) value = a.Get(idx, "\0");
            else value = a.Keywords.FirstOrDefault(kv => kv.Key == field).Value;
            sb.Append(conv == "r" ? PyOps.Repr(value) : PyOps.Str(value));
        }

        return sb.ToString();
    }
}
