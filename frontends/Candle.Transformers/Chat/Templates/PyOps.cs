using System.Globalization;
using System.Text;

namespace Candle.Transformers.Chat.Templates;

/// <summary>
/// Python's semantics for the values a template handles (None, bool, int, float, str, list, tuple, dict):
/// truthiness, <c>str()</c> and <c>repr()</c>, equality and ordering, arithmetic, membership and iteration.
/// Lists are <see cref="List{T}"/>, tuples are arrays, dicts are <see cref="JinjaDict"/>.
/// </summary>
internal static class PyOps
{
    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        object?[] => "tuple",
        JinjaDict => "dict",
        JinjaNamespace => "Namespace",
        JinjaUndefined => "Undefined",
        JinjaLoop => "LoopContext",
        IJinjaCallable => "function",
        _ => v.GetType().Name,
    };

    public static bool Truthy(object? v) => v switch
    {
        null => false,
        JinjaUndefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        object?[] a => a.Length > 0,
        JinjaDict d => d.Count > 0,
        _ => true,
    };

    /// <summary>Python's <c>str(v)</c>; an undefined value prints as nothing.</summary>
    public static string Str(object? v) => v switch
    {
        string s => s,
        JinjaUndefined => string.Empty,
        _ => Repr(v),
    };

    /// <summary>Python's <c>repr(v)</c>.</summary>
    public static string Repr(object? v)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, v);
        return sb.ToString();
    }

    private static void AppendRepr(StringBuilder sb, object? v)
    {
        switch (v)
        {
            case null: sb.Append("None"); break;
            case JinjaUndefined: sb.Append("Undefined"); break;
            case bool b: sb.Append(b ? "True" : "False"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(FloatRepr(d)); break;
            case string s: AppendStringRepr(sb, s); break;
            case List<object?> list:
                sb.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    AppendRepr(sb, list[i]);
                }

                sb.Append(']');
                break;
            case object?[] tuple:
                sb.Append('(');
                for (int i = 0; i < tuple.Length; i++)
                {
                    if (i > 0) sb.Append(", ");
                    AppendRepr(sb, tuple[i]);
                }

                if (tuple.Length == 1) sb.Append(',');
                sb.Append(')');
                break;
            case JinjaDict dict:
                sb.Append('{');
                bool first = true;
                foreach (var kv in dict.Items)
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    AppendRepr(sb, kv.Key);
                    sb.Append(": ");
                    AppendRepr(sb, kv.Value);
                }

                sb.Append('}');
                break;
            case JinjaNamespace ns:
                sb.Append("<Namespace ");
                sb.Append(string.Join(", ", ns.Attributes.Select(kv => kv.Key + "=" + Repr(kv.Value))));
                sb.Append('>');
                break;
            case IJinjaCallable c: sb.Append("<function ").Append(c.Name).Append('>'); break;
            default: sb.Append(v); break;
        }
    }

    private static void AppendStringRepr(StringBuilder sb, string s)
    {
        char quote = s.Contains('\'', StringComparison.Ordinal) && !s.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        sb.Append(quote);
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c == quote) sb.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }

        sb.Append(quote);
    }

    /// <summary>Python's <c>repr(float)</c>: shortest round-trip digits, fixed between 1e-4 and 1e16, else exponent.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";
        // Shortest round-trip digits: "R" gives them, possibly in exponent form.
        string shortest = d.ToString("R", CultureInfo.InvariantCulture);
        bool neg = shortest.StartsWith('-');
        if (neg) shortest = shortest[1..];
        int exp = 0;
        int e = shortest.IndexOfAny(['E', 'e']);
        string mant = shortest;
        if (e >= 0)
        {
            exp = int.Parse(shortest[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            mant = shortest[..e];
        }

        int dot = mant.IndexOf('.', StringComparison.Ordinal);
        string digits = dot >= 0 ? mant.Remove(dot, 1) : mant;
        int pointPos = (dot >= 0 ? dot : mant.Length) + exp;
        int lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0')
        {
            lead++;
            pointPos--;
        }

        digits = digits[lead..].TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        int sciExp = pointPos - 1;
        var sb = new StringBuilder();
        if (neg) sb.Append('-');
        if (sciExp >= -4 && sciExp < 16)
        {
            if (pointPos <= 0)
            {
                sb.Append("0.").Append('0', -pointPos).Append(digits);
            }
            else if (pointPos >= digits.Length)
            {
                sb.Append(digits).Append('0', pointPos - digits.Length).Append(".0");
            }
            else
            {
                sb.Append(digits, 0, pointPos).Append('.').Append(digits, pointPos, digits.Length - pointPos);
            }
        }
        else
        {
            sb.Append(digits[0]);
            if (digits.Length > 1) sb.Append('.').Append(digits, 1, digits.Length - 1);
            sb.Append('e').Append(sciExp < 0 ? '-' : '+').Append(Math.Abs(sciExp).ToString("00", CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }

    public static bool IsNumber(object? v) => v is long or double or bool;

    public static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new TemplateException($"expected a number, got {TypeName(v)}"),
    };

    public static bool Equal(object? a, object? b)
    {
        if (a is JinjaUndefined || b is JinjaUndefined) return a is JinjaUndefined && b is JinjaUndefined;
        if (a is null || b is null) return a is null && b is null;
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a) == ToDouble(b);
            return ToLong(a) == ToLong(b);
        }

        switch (a)
        {
            case string sa: return b is string sb && string.Equals(sa, sb, StringComparison.Ordinal);
            case List<object?> la: return b is List<object?> lb && SeqEqual(la, lb);
            case object?[] ta: return b is object?[] tb && SeqEqual(ta, tb);
            case JinjaDict da:
                if (b is not JinjaDict db || da.Count != db.Count) return false;
                foreach (var kv in da.Items)
                {
                    if (!db.TryGet(kv.Key, out var other) || !Equal(kv.Value, other)) return false;
                }

                return true;
            default: return ReferenceEquals(a, b);
        }
    }

    private static bool SeqEqual(IReadOnlyList<object?> a, IReadOnlyList<object?> b)
    {
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++)
        {
            if (!Equal(a[i], b[i])) return false;
        }

        return true;
    }

    private static long ToLong(object? v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new TemplateException($"expected an integer, got {TypeName(v)}"),
    };

    /// <summary>Python's ordering (<c>&lt;</c>): numbers with numbers, strings with strings, sequences lexicographically.</summary>
    public static int Compare(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a).CompareTo(ToDouble(b));
            return ToLong(a).CompareTo(ToLong(b));
        }

        if (a is string sa && b is string sb) return string.CompareOrdinal(sa, sb);
        if (a is IReadOnlyList<object?> la && b is IReadOnlyList<object?> lb && a.GetType() == b.GetType())
        {
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
            {
                if (!Equal(la[i], lb[i])) return Compare(la[i], lb[i]);
            }

            return la.Count.CompareTo(lb.Count);
        }

        if (a is JinjaUndefined u) throw u.Fail();
        if (b is JinjaUndefined u2) throw u2.Fail();
        throw new TemplateException($"'<' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    public static object? Add(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (IsNumber(a) && IsNumber(b))
        {
            return a is double || b is double ? (object)(ToDouble(a) + ToDouble(b)) : ToLong(a) + ToLong(b);
        }

        if (a is string sa && b is string sb) return sa + sb;
        if (a is List<object?> la && b is List<object?> lb) return new List<object?>(la.Concat(lb));
        if (a is object?[] ta && b is object?[] tb) return ta.Concat(tb).ToArray();
        throw Unsupported("+", a, b);
    }

    public static object? Subtract(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (IsNumber(a) && IsNumber(b))
        {
            return a is double || b is double ? (object)(ToDouble(a) - ToDouble(b)) : ToLong(a) - ToLong(b);
        }

        throw Unsupported("-", a, b);
    }

    public static object? Multiply(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (IsNumber(a) && IsNumber(b))
        {
            return a is double || b is double ? (object)(ToDouble(a) * ToDouble(b)) : ToLong(a) * ToLong(b);
        }

        if (a is string s && b is long or bool) return Repeat(s, ToLong(b));
        if (b is string s2 && a is long or bool) return Repeat(s2, ToLong(a));
        if (a is List<object?> l && b is long or bool) return RepeatList(l, ToLong(b));
        throw Unsupported("*", a, b);
    }

    private static string Repeat(string s, long n)
    {
        if (n <= 0) return string.Empty;
        if (s.Length * n > 10_000_000) throw new TemplateException("string repetition result too long");
        return new StringBuilder(s.Length * (int)n).Insert(0, s, (int)n).ToString();
    }

    private static List<object?> RepeatList(List<object?> l, long n)
    {
        var result = new List<object?>();
        if (l.Count * Math.Max(n, 0) > 1_000_000) throw new TemplateException("list repetition result too long");
        for (long i = 0; i < n; i++) result.AddRange(l);
        return result;
    }

    public static object? Divide(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("/", a, b);
        double db = ToDouble(b);
        if (db == 0) throw new TemplateException("division by zero");
        return ToDouble(a) / db;
    }

    public static object? FloorDivide(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("//", a, b);
        if (a is double || b is double)
        {
            double db = ToDouble(b);
            if (db == 0) throw new TemplateException("float floor division by zero");
            return Math.Floor(ToDouble(a) / db);
        }

        long x = ToLong(a), y = ToLong(b);
        if (y == 0) throw new TemplateException("integer division or modulo by zero");
        long q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) q--;
        return q;
    }

    public static object? Modulo(object? a, object? b)
    {
        if (a is string fmt) return PercentFormat.Format(fmt, b);
        ThrowIfUndefined(a, b);
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("%", a, b);
        if (a is double || b is double)
        {
            double x = ToDouble(a), y = ToDouble(b);
            if (y == 0) throw new TemplateException("float modulo");
            double m = x % y;
            if (m != 0 && (m < 0) != (y < 0)) m += y;
            return m;
        }

        long lx = ToLong(a), ly = ToLong(b);
        if (ly == 0) throw new TemplateException("integer division or modulo by zero");
        long r = lx % ly;
        if (r != 0 && (r < 0) != (ly < 0)) r += ly;
        return r;
    }

    public static object? Power(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("**", a, b);
        if (a is double || b is double || ToLong(b) < 0) return Math.Pow(ToDouble(a), ToDouble(b));
        long result = 1, bas = ToLong(a);
        for (long e = ToLong(b); e > 0; e--)
        {
            result = checked(result * bas);
        }

        return result;
    }

    public static object? Negate(object? a)
    {
        ThrowIfUndefined(a, null);
        return a switch
        {
            long l => (object)(-l),
            double d => -d,
            bool b => b ? -1L : 0L,
            _ => throw new TemplateException($"bad operand type for unary -: '{TypeName(a)}'"),
        };
    }

    /// <summary>Python's <c>needle in haystack</c>.</summary>
    public static bool Contains(object? haystack, object? needle)
    {
        switch (haystack)
        {
            case string s:
                if (needle is not string n) throw new TemplateException($"'in <string>' requires string as left operand, not {TypeName(needle)}");
                return s.Contains(n, StringComparison.Ordinal);
            case JinjaDict d: return d.ContainsKey(needle);
            case IReadOnlyList<object?> list:
                foreach (var item in list)
                {
                    if (Equal(item, needle)) return true;
                }

                return false;
            case JinjaUndefined: return false;
            default: throw new TemplateException($"argument of type '{TypeName(haystack)}' is not iterable");
        }
    }

    /// <summary>Python's <c>iter(v)</c>: list and tuple items, dict keys, string characters; undefined is empty.</summary>
    public static IEnumerable<object?> Iterate(object? v) => v switch
    {
        IReadOnlyList<object?> list => list,
        JinjaDict d => d.Keys.Cast<object?>(),
        string s => EnumerateChars(s),
        JinjaUndefined => Array.Empty<object?>(),
        _ => throw new TemplateException($"'{TypeName(v)}' object is not iterable"),
    };

    private static List<object?> EnumerateChars(string s)
    {
        var list = new List<object?>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                list.Add(s.Substring(i, 2));
                i++;
            }
            else
            {
                list.Add(s[i].ToString());
            }
        }

        return list;
    }

    public static List<object?> ToList(object? v) => [.. Iterate(v)];

    public static long Length(object? v) => v switch
    {
        string s => s.Length,
        IReadOnlyList<object?> l => l.Count,
        JinjaDict d => d.Count,
        JinjaUndefined => 0,
        JinjaNamespace ns => ns.Attributes.Count,
        _ => throw new TemplateException($"object of type '{TypeName(v)}' has no len()"),
    };

    private static void ThrowIfUndefined(object? a, object? b)
    {
        if (a is JinjaUndefined ua) throw ua.Fail();
        if (b is JinjaUndefined ub) throw ub.Fail();
    }

    private static TemplateException Unsupported(string op, object? a, object? b) =>
        new($"unsupported operand type(s) for {op}: '{TypeName(a)}' and '{TypeName(b)}'");
}
