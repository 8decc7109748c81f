using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Candle.Transformers.Chat.Templates;

/// <summary>
/// JSON in and out the way transformers does it: case and message data parsed into template values, and the
/// <c>tojson</c> filter written as Python's <c>json.dumps(x, ensure_ascii=False, indent=..., separators=...,
/// sort_keys=...)</c> (", " and ": " separators, non-ASCII kept, floats as Python prints them).
/// </summary>
internal static class JinjaJson
{
    /// <summary>Converts parsed JSON into template values (objects become dicts, integers ints, other numbers floats).</summary>
    public static object? FromJson(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => ObjectToDict(e),
        JsonValueKind.Array => e.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => NumberValue(e),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    private static JinjaDict ObjectToDict(JsonElement e)
    {
        var d = new JinjaDict();
        foreach (var p in e.EnumerateObject())
        {
            d.Set(p.Name, FromJson(p.Value));
        }

        return d;
    }

    private static object NumberValue(JsonElement e)
    {
        string raw = e.GetRawText();
        bool integral = raw.IndexOfAny(['.', 'e', 'E']) < 0;
        if (integral && e.TryGetInt64(out long l)) return l;
        return e.GetDouble();
    }

    /// <summary>Python's <c>json.dumps</c> with <c>ensure_ascii=False</c>.</summary>
    public static string Dumps(object? value, int? indent, string? itemSeparator, string? keySeparator, bool sortKeys, bool ensureAscii = false)
    {
        string itemSep = itemSeparator ?? (indent is null ? ", " : ",");
        string keySep = keySeparator ?? ": ";
        var sb = new StringBuilder();
        Write(sb, value, indent, itemSep, keySep, sortKeys, 0);
        return ensureAscii ? EscapeNonAscii(sb.ToString()) : sb.ToString();
    }

    private static void Write(StringBuilder sb, object? v, int? indent, string itemSep, string keySep, bool sortKeys, int depth)
    {
        if (depth > 512) throw new TemplateException("tojson: value nested too deeply");
        switch (v)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : PyOps.FloatRepr(d));
                break;
            case string s: WriteString(sb, s); break;
            case IReadOnlyList<object?> list:
                if (list.Count == 0)
                {
                    sb.Append("[]");
                    break;
                }

                sb.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(itemSep);
                    NewLine(sb, indent, depth + 1);
                    Write(sb, list[i], indent, itemSep, keySep, sortKeys, depth + 1);
                }

                NewLine(sb, indent, depth);
                sb.Append(']');
                break;
            case JinjaDict dict:
                if (dict.Count == 0)
                {
                    sb.Append("{}");
                    break;
                }

                var items = dict.Items.Select(kv => (Key: KeyString(kv.Key), kv.Value)).ToList();
                if (sortKeys) items = [.. items.OrderBy(kv => kv.Key, StringComparer.Ordinal)];
                sb.Append('{');
                for (int i = 0; i < items.Count; i++)
                {
                    if (i > 0) sb.Append(itemSep);
                    NewLine(sb, indent, depth + 1);
                    WriteString(sb, items[i].Key);
                    sb.Append(keySep);
                    Write(sb, items[i].Value, indent, itemSep, keySep, sortKeys, depth + 1);
                }

                NewLine(sb, indent, depth);
                sb.Append('}');
                break;
            case JinjaUndefined:
                throw new TemplateException("Object of type Undefined is not JSON serializable");
            default:
                throw new TemplateException($"Object of type {PyOps.TypeName(v)} is not JSON serializable");
        }
    }

    private static string KeyString(object key) => key switch
    {
        string s => s,
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => PyOps.FloatRepr(d),
        _ => throw new TemplateException($"keys must be str, int, float, bool or None, not {PyOps.TypeName(key)}"),
    };

    private static string EscapeNonAscii(string json)
    {
        var sb = new StringBuilder(json.Length);
        foreach (char c in json)
        {
            if (c < 0x80) sb.Append(c);
            else sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }

    private static void NewLine(StringBuilder sb, int? indent, int depth)
    {
        if (indent is null) return;
        sb.Append('\n').Append(' ', indent.Value * depth);
    }

    private static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }

        sb.Append('"');
    }
}
