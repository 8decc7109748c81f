using System.Globalization;
using System.Text;

namespace Candle.Transformers.Chat.Templates;

/// <summary>Python's <c>format % values</c> string formatting (and Jinja's <c>format</c> filter): %s %r %d %i %f %e %g %x %o %c %%, flags, width, precision, <c>%(key)s</c>.</summary>
internal static class PercentFormat
{
    public static string Format(string format, object? values)
    {
        var positional = values switch
        {
            object?[] t => t,
            JinjaDict => null,
            _ => [values],
        };
        var dict = values as JinjaDict;
        var sb = new StringBuilder();
        int next = 0;
        int i = 0;
        while (i < format.Length)
        {
            char c = format[i++];
            if (c != '%')
            {
                sb.Append(c);
                continue;
            }

            if (i >= format.Length) throw new TemplateException("incomplete format");
            object? arg = null;
            bool haveArg = false;
            if (format[i] == '(')
            {
                int close = format.IndexOf(')', i);
                if (close < 0) throw new TemplateException("incomplete format key");
                string key = format[(i + 1)..close];
                if (dict is null || !dict.TryGet(key, out arg)) throw new TemplateException($"format requires a mapping with key '{key}'");
                haveArg = true;
                i = close + 1;
            }

            string flags = string.Empty;
            while (i < format.Length && "-+ #0".Contains(format[i], StringComparison.Ordinal)) flags += format[i++];
            int width = ReadNumber(format, ref i);
            int precision = -1;
            if (i < format.Length && format[i] == '.')
            {
                i++;
                precision = Math.Max(ReadNumber(format, ref i), 0);
            }

            if (i >= format.Length) throw new TemplateException("incomplete format");
            char conv = format[i++];
            if (conv == '%')
            {
                sb.Append('%');
                continue;
            }

            if (!haveArg)
            {
                if (positional is null || next >= positional.Length) throw new TemplateException("not enough arguments for format string");
                arg = positional[next++];
            }

            string text = conv switch
            {
                's' => PyOps.Str(arg),
                'r' or 'a' => PyOps.Repr(arg),
                'd' or 'i' or 'u' => ((long)Math.Truncate(PyOps.ToDouble(arg))).ToString(CultureInfo.InvariantCulture),
                'f' or 'F' => PyOps.ToDouble(arg).ToString("F" + (precision < 0 ? 6 : precision), CultureInfo.InvariantCulture),
                'e' or 'E' => FormatExp(PyOps.ToDouble(arg), precision < 0 ? 6 : precision, conv),
                'g' or 'G' => PyOps.ToDouble(arg).ToString("G" + (precision < 0 ? 6 : Math.Max(precision, 1)), CultureInfo.InvariantCulture),
                'x' => ((long)PyOps.ToDouble(arg)).ToString("x", CultureInfo.InvariantCulture),
                'X' => ((long)PyOps.ToDouble(arg)).ToString("X", CultureInfo.InvariantCulture),
                'o' => Convert.ToString((long)PyOps.ToDouble(arg), 8),
                'c' => arg is string cs ? cs : char.ConvertFromUtf32((int)PyOps.ToDouble(arg)),
                _ => throw new TemplateException($"unsupported format character '{conv}'"),
            };
            if (conv is 's' or 'r' or 'a' && precision >= 0 && text.Length > precision) text = text[..precision];
            if (conv is 'd' or 'i' or 'f' or 'F' or 'e' or 'E' or 'g' or 'G' && flags.Contains('+', StringComparison.Ordinal) && !text.StartsWith('-')) text = "+" + text;
            if (text.Length < width)
            {
                if (flags.Contains('-', StringComparison.Ordinal)) text = text.PadRight(width);
                else if (flags.Contains('0', StringComparison.Ordinal) && conv is not ('s' or 'r'))
                {
                    bool neg = text.StartsWith('-') || text.StartsWith('+');
                    text = neg ? text[0] + text[1..].PadLeft(width - 1, '0') : text.PadLeft(width, '0');
                }
                else text = text.PadLeft(width);
            }

            sb.Append(text);
        }

        if (positional is not null && next < positional.Length && values is object?[])
        {
            throw new TemplateException("not all arguments converted during string formatting");
        }

        return sb.ToString();
    }

    private static string FormatExp(double d, int precision, char conv)
    {
        string s = d.ToString((conv == 'E' ? "E" : "e") + precision, CultureInfo.InvariantCulture);
        int e = s.IndexOfAny(['e', 'E']);
        string mant = s[..e];
        int exp = int.Parse(s[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        return mant + s[e] + (exp < 0 ? "-" : "+") + Math.Abs(exp).ToString("00", CultureInfo.InvariantCulture);
    }

    private static int ReadNumber(string s, ref int i)
    {
        int start = i;
        while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
        return i > start ? int.Parse(s[start..i], CultureInfo.InvariantCulture) : 0;
    }
}
