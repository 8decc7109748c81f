using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Candle.Cli;

/// <summary>
/// Text the command prints from files and exceptions: control characters escaped so that tensor names and metadata
/// cannot drive the terminal, and error messages reduced to one line in the command's terms (flags, files, keys)
/// rather than .NET's (parameter names, type names).
/// </summary>
internal static partial class CliText
{
    /// <summary>
    /// <paramref name="text"/> with control characters (C0, DEL, C1) and the Unicode bidirectional overrides written
    /// as <c>\n</c>, <c>\t</c>, <c>\e</c> or <c>\u{XXXX}</c>, and backslashes doubled.
    /// </summary>
    public static string Escape(string? text)
    {
        if (string.IsNullOrEmpty(text)) return text ?? "";
        StringBuilder? sb = null;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            string? rep = c switch
            {
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '\x1b' => "\\e",
                _ when char.IsControl(c) || c is (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069') or '\u200E' or '\u200F'
                    => string.Create(CultureInfo.InvariantCulture, $"\\u{{{(int)c:X4}}}"),
                _ => null,
            };
            if (rep is null)
            {
                sb?.Append(c);
                continue;
            }

            sb ??= new StringBuilder(text, 0, i, text.Length + 16);
            sb.Append(rep);
        }

        return sb?.ToString() ?? text;
    }

    /// <summary>The message of an exception as one escaped line without .NET's parameter and actual-value suffixes.</summary>
    public static string ErrorLine(Exception e)
    {
        ArgumentNullException.ThrowIfNull(e);
        string message = e.Message;
        if (e is ArgumentException { ParamName: { } p })
        {
            // "... (Parameter 'x')" and ArgumentOutOfRangeException's "Actual value was ..." line.
            message = message.Replace($" (Parameter '{p}')", "", StringComparison.Ordinal);
            int actual = message.IndexOf("\nActual value was", StringComparison.Ordinal);
            if (actual < 0) actual = message.IndexOf("\r\nActual value was", StringComparison.Ordinal);
            if (actual >= 0) message = message[..actual];
        }

        return OneLine(TypeNames().Replace(message, m => FriendlyType(m.Groups[1].Value)));
    }

    /// <summary>The first line of <paramref name="message"/>, escaped.</summary>
    public static string OneLine(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        int nl = message.IndexOfAny(['\r', '\n']);
        return Escape((nl < 0 ? message : message[..nl]).TrimEnd());
    }

    /// <summary>A parse error of the command line with .NET type names replaced by what the value should be.</summary>
    public static string ParseError(string message) => OneLine(TypeNames().Replace(message, m => FriendlyType(m.Groups[1].Value)));

    private static string FriendlyType(string name) => name switch
    {
        "Int32" or "Int64" or "Int16" or "Byte" or "SByte" => "an integer",
        "UInt32" or "UInt64" or "UInt16" => "a non-negative integer",
        "Double" or "Single" or "Decimal" => "a number",
        "Boolean" => "true or false",
        "String" => "text",
        _ => "a value of the right kind",
    };

    [GeneratedRegex(@"(?:type )?'?System\.(?:Nullable`1\[)?(?:System\.)?(\w+)\]?'?")]
    private static partial Regex TypeNames();
}
