using System.Globalization;
using System.Text;

namespace Candle.Transformers.Chat.Templates;

/// <summary>C's <c>strftime</c> in the C locale, as Python's <c>datetime.strftime</c> calls it on Linux (with glibc's <c>-</c>, <c>_</c>, <c>0</c> and <c>^</c> flags).</summary>
internal static class Strftime
{
    private static readonly string[] Days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
    private static readonly string[] Months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

    public static string Format(DateTime t, string format)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c != '%' || i + 1 >= format.Length)
            {
                sb.Append(c);
                continue;
            }

            char flag = '\0';
            char next = format[++i];
            if (next is '-' or '_' or '0' or '^' or '#')
            {
                flag = next;
                if (++i >= format.Length)
                {
                    sb.Append('%').Append(flag);
                    break;
                }

                next = format[i];
            }

            string? text = Directive(t, next, flag);
            if (text is null) sb.Append('%').Append(flag == '\0' ? string.Empty : flag.ToString()).Append(next);
            else sb.Append(flag == '^' ? text.ToUpperInvariant() : text);
        }

        return sb.ToString();
    }

    private static string Num(int value, int width, char flag, char pad = '0')
    {
        string s = value.ToString(CultureInfo.InvariantCulture);
        return flag switch
        {
            '-' => s,
            '_' => s.PadLeft(width, ' '),
            '0' => s.PadLeft(width, '0'),
            _ => s.PadLeft(width, pad),
        };
    }

    private static string? Directive(DateTime t, char d, char flag)
    {
        int hour12 = t.Hour % 12 == 0 ? 12 : t.Hour % 12;
        int dow = (int)t.DayOfWeek;
        return d switch
        {
            'a' => Days[dow][..3],
            'A' => Days[dow],
            'b' or 'h' => Months[t.Month - 1][..3],
            'B' => Months[t.Month - 1],
            'c' => $"{Days[dow][..3]} {Months[t.Month - 1][..3]} {t.Day,2} {t:HH:mm:ss} {t.Year}",
            'C' => Num(t.Year / 100, 2, flag),
            'd' => Num(t.Day, 2, flag),
            'D' => t.ToString("MM/dd/yy", CultureInfo.InvariantCulture),
            'e' => Num(t.Day, 2, flag, ' '),
            'F' => t.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            'H' => Num(t.Hour, 2, flag),
            'I' => Num(hour12, 2, flag),
            'j' => Num(t.DayOfYear, 3, flag),
            'k' => Num(t.Hour, 2, flag, ' '),
            'l' => Num(hour12, 2, flag, ' '),
            'm' => Num(t.Month, 2, flag),
            'M' => Num(t.Minute, 2, flag),
            'n' => "\n",
            'p' => t.Hour < 12 ? "AM" : "PM",
            'P' => t.Hour < 12 ? "am" : "pm",
            'r' => $"{hour12:00}:{t.Minute:00}:{t.Second:00} {(t.Hour < 12 ? "AM" : "PM")}",
            'R' => t.ToString("HH:mm", CultureInfo.InvariantCulture),
            'S' => Num(t.Second, 2, flag),
            't' => "\t",
            'T' => t.ToString("HH:mm:ss", CultureInfo.InvariantCulture),
            'u' => (dow == 0 ? 7 : dow).ToString(CultureInfo.InvariantCulture),
            'w' => dow.ToString(CultureInfo.InvariantCulture),
            'x' => t.ToString("MM/dd/yy", CultureInfo.InvariantCulture),
            'X' => t.ToString("HH:mm:ss", CultureInfo.InvariantCulture),
            'y' => Num(t.Year % 100, 2, flag),
            'Y' => t.Year.ToString(CultureInfo.InvariantCulture),
            'G' => ISOWeek.GetYear(t).ToString(CultureInfo.InvariantCulture),
            'V' => Num(ISOWeek.GetWeekOfYear(t), 2, flag),
            'U' => Num((t.DayOfYear + 6 - dow) / 7, 2, flag),
            'W' => Num((t.DayOfYear + 6 - ((dow + 6) % 7)) / 7, 2, flag),
            'f' => (t.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", CultureInfo.InvariantCulture),
            'z' or 'Z' => string.Empty,
            's' => ((long)(t - DateTime.UnixEpoch).TotalSeconds).ToString(CultureInfo.InvariantCulture),
            '%' => "%",
            _ => null,
        };
    }
}
