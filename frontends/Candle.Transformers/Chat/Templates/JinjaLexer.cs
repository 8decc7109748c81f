using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Candle.Transformers.Chat.Templates;

/// <summary>
/// Splits a Jinja template into data and tag tokens the way Jinja's lexer does: newlines normalized to <c>\n</c>,
/// one trailing newline dropped (<c>keep_trailing_newline=False</c>), <c>{%- -%}</c> / <c>{{- -}}</c> /
/// <c>{#- -#}</c> strip whitespace, <c>trim_blocks</c> drops the first newline after a block or comment tag,
/// <c>lstrip_blocks</c> drops spaces and tabs from the start of a line up to a block or comment tag, and
/// <c>+</c> turns either off for one tag. <c>{% raw %}</c> bodies come through as data.
/// </summary>
internal static partial class JinjaLexer
{
    private static readonly string[] Operators = ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", ".", ",", ":", "|", "(", ")", "[", "]", "{", "}"];

    [GeneratedRegex(@"\{%([-+]?)\s*endraw\s*([-+]?)%\}")]
    private static partial Regex EndRaw();

    public static List<JinjaToken> Tokenize(string source, bool trimBlocks, bool lstripBlocks)
    {
        source = source.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');
        if (source.EndsWith('\n')) source = source[..^1];
        var tokens = new List<JinjaToken>();
        int pos = 0;
        bool lineStarting = true;
        while (pos < source.Length)
        {
            int start = FindTagStart(source, pos);
            if (start < 0)
            {
                tokens.Add(new JinjaToken(JinjaTokenKind.Data, source[pos..], LineOf(source, pos)));
                break;
            }

            string text = source[pos..start];
            char kind = source[start + 1];
            char sign = start + 2 < source.Length ? source[start + 2] : '\0';
            if (sign == '-')
            {
                text = RStrip(text);
            }
            else if (sign != '+' && lstripBlocks && kind != '{')
            {
                int lpos = text.LastIndexOf('\n') + 1;
                if ((lpos > 0 || lineStarting) && IsBlank(text, lpos)) text = text[..lpos];
            }

            if (text.Length > 0) tokens.Add(new JinjaToken(JinjaTokenKind.Data, text, LineOf(source, pos)));
            int p = start + 2 + (sign is '-' or '+' ? 1 : 0);
            int line = LineOf(source, start);
            int after;
            switch (kind)
            {
                case '#':
                {
                    int end = source.IndexOf("#}", p, StringComparison.Ordinal);
                    if (end < 0) throw new TemplateException($"line {line}: missing end of comment tag");
                    char closeSign = end > p ? source[end - 1] : '\0';
                    after = AfterTag(source, end + 2, closeSign, trimBlocks);
                    break;
                }

                case '{':
                {
                    tokens.Add(new JinjaToken(JinjaTokenKind.VariableBegin, "{{", line));
                    int end = TokenizeInside(source, p, "}}", tokens, line, out char closeSign);
                    tokens.Add(new JinjaToken(JinjaTokenKind.VariableEnd, "}}", LineOf(source, end)));
                    after = AfterTag(source, end + 2, closeSign, trimBlocks: false);
                    break;
                }

                default:
                {
                    int before = tokens.Count;
                    tokens.Add(new JinjaToken(JinjaTokenKind.BlockBegin, "{%", line));
                    int end = TokenizeInside(source, p, "%}", tokens, line, out char closeSign);
                    if (tokens.Count == before + 2 && tokens[before + 1].IsName("raw"))
                    {
                        tokens.RemoveRange(before, 2);
                        int bodyStart = closeSign == '-' ? SkipWhitespace(source, end + 2) : end + 2;
                        var m = EndRaw().Match(source, bodyStart);
                        if (!m.Success) throw new TemplateException($"line {line}: missing end of raw directive");
                        string body = source[bodyStart..m.Index];
                        if (m.Groups[1].Value == "-") body = RStrip(body);
                        if (body.Length > 0) tokens.Add(new JinjaToken(JinjaTokenKind.Data, body, line));
                        after = AfterTag(source, m.Index + m.Length, m.Groups[2].Value.Length > 0 ? m.Groups[2].Value[0] : '\0', trimBlocks);
                        break;
                    }

                    tokens.Add(new JinjaToken(JinjaTokenKind.BlockEnd, "%}", LineOf(source, end)));
                    after = AfterTag(source, end + 2, closeSign, trimBlocks);
                    break;
                }
            }

            lineStarting = after > 0 && source[after - 1] == '\n';
            pos = after;
        }

        tokens.Add(new JinjaToken(JinjaTokenKind.Eof, string.Empty, LineOf(source, source.Length)));
        return tokens;
    }

    private static int FindTagStart(string s, int from)
    {
        for (int i = s.IndexOf('{', from); i >= 0 && i + 1 < s.Length; i = s.IndexOf('{', i + 1))
        {
            char c = s[i + 1];
            if (c is '{' or '%' or '#') return i;
        }

        return -1;
    }

    /// <summary>Position after a tag's closing delimiter, with <c>-</c> (all whitespace) or trim_blocks (one newline) applied.</summary>
    private static int AfterTag(string s, int pos, char closeSign, bool trimBlocks)
    {
        if (closeSign == '-') return SkipWhitespace(s, pos);
        if (closeSign != '+' && trimBlocks && pos < s.Length && s[pos] == '\n') return pos + 1;
        return pos;
    }

    private static int SkipWhitespace(string s, int pos)
    {
        while (pos < s.Length && char.IsWhiteSpace(s[pos])) pos++;
        return pos;
    }

    private static string RStrip(string s)
    {
        int end = s.Length;
        while (end > 0 && char.IsWhiteSpace(s[end - 1])) end--;
        return s[..end];
    }

    private static bool IsBlank(string s, int from)
    {
        for (int i = from; i < s.Length; i++)
        {
            if (!char.IsWhiteSpace(s[i])) return false;
        }

        return true;
    }

    private static int LineOf(string s, int pos)
    {
        int line = 1;
        for (int i = 0; i < pos && i < s.Length; i++)
        {
            if (s[i] == '\n') line++;
        }

        return line;
    }

    /// <summary>Tokenizes a tag's expression up to <paramref name="close"/> at bracket depth 0; returns the close's index.</summary>
    private static int TokenizeInside(string s, int pos, string close, List<JinjaToken> tokens, int line, out char closeSign)
    {
        int depth = 0;
        while (true)
        {
            while (pos < s.Length && char.IsWhiteSpace(s[pos]))
            {
                if (s[pos] == '\n') line++;
                pos++;
            }

            if (pos >= s.Length) throw new TemplateException($"line {line}: unexpected end of template, expected '{close}'");
            if (depth == 0)
            {
                if (string.CompareOrdinal(s, pos, close, 0, 2) == 0)
                {
                    closeSign = '\0';
                    return pos;
                }

                if ((s[pos] == '-' || s[pos] == '+') && string.CompareOrdinal(s, pos + 1, close, 0, 2) == 0)
                {
                    closeSign = s[pos];
                    return pos + 1;
                }
            }

            char c = s[pos];
            if (char.IsAsciiLetter(c) || c == '_')
            {
                int start = pos;
                while (pos < s.Length && (char.IsAsciiLetterOrDigit(s[pos]) || s[pos] == '_')) pos++;
                tokens.Add(new JinjaToken(JinjaTokenKind.Name, s[start..pos], line));
            }
            else if (char.IsAsciiDigit(c))
            {
                pos = ReadNumber(s, pos, tokens, line);
            }
            else if (c is '\'' or '"')
            {
                pos = ReadString(s, pos, tokens, ref line);
            }
            else
            {
                string? op = null;
                foreach (string candidate in Operators)
                {
                    if (string.CompareOrdinal(s, pos, candidate, 0, candidate.Length) == 0)
                    {
                        op = candidate;
                        break;
                    }
                }

                if (op is null) throw new TemplateException($"line {line}: unexpected char '{c}'");
                if (op is "(" or "[" or "{") depth++;
                else if (op is ")" or "]" or "}")
                {
                    if (depth == 0) throw new TemplateException($"line {line}: unexpected '{op}'");
                    depth--;
                }

                tokens.Add(new JinjaToken(JinjaTokenKind.Operator, op, line));
                pos += op.Length;
            }
        }
    }

    private static int ReadNumber(string s, int pos, List<JinjaToken> tokens, int line)
    {
        int start = pos;
        while (pos < s.Length && (char.IsAsciiDigit(s[pos]) || s[pos] == '_')) pos++;
        bool isFloat = false;
        // As Jinja's float pattern (?<!\.): right after a dot (x.0.1) a number is an integer index.
        bool afterDot = start > 0 && s[start - 1] == '.';
        if (afterDot)
        {
            tokens.Add(new JinjaToken(JinjaTokenKind.Integer, s[start..pos].Replace("_", string.Empty, StringComparison.Ordinal), line));
            return pos;
        }

        if (pos + 1 < s.Length && s[pos] == '.' && char.IsAsciiDigit(s[pos + 1]))
        {
            isFloat = true;
            pos++;
            while (pos < s.Length && (char.IsAsciiDigit(s[pos]) || s[pos] == '_')) pos++;
        }

        if (pos < s.Length && (s[pos] == 'e' || s[pos] == 'E'))
        {
            int e = pos + 1;
            if (e < s.Length && (s[e] == '+' || s[e] == '-')) e++;
            if (e < s.Length && char.IsAsciiDigit(s[e]))
            {
                isFloat = true;
                pos = e;
                while (pos < s.Length && char.IsAsciiDigit(s[pos])) pos++;
            }
        }

        string text = s[start..pos].Replace("_", string.Empty, StringComparison.Ordinal);
        tokens.Add(new JinjaToken(isFloat ? JinjaTokenKind.Float : JinjaTokenKind.Integer, text, line));
        return pos;
    }

    private static int ReadString(string s, int pos, List<JinjaToken> tokens, ref int line)
    {
        char quote = s[pos];
        int startLine = line;
        var sb = new StringBuilder();
        pos++;
        while (true)
        {
            if (pos >= s.Length) throw new TemplateException($"line {startLine}: unterminated string");
            char c = s[pos++];
            if (c == quote) break;
            if (c == '\n') line++;
            if (c != '\\')
            {
                sb.Append(c);
                continue;
            }

            if (pos >= s.Length) throw new TemplateException($"line {startLine}: unterminated string");
            char e = s[pos++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case 'a': sb.Append('\a'); break;
                case '0' when pos >= s.Length || !char.IsAsciiDigit(s[pos]): sb.Append('\0'); break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case '\n': line++; break;
                case 'x': sb.Append(Hex(s, ref pos, 2, startLine)); break;
                case 'u': sb.Append(Hex(s, ref pos, 4, startLine)); break;
                case 'U': sb.Append(Hex(s, ref pos, 8, startLine)); break;
                default: sb.Append('\\').Append(e); break;
            }
        }

        tokens.Add(new JinjaToken(JinjaTokenKind.String, sb.ToString(), startLine));
        return pos;
    }

    private static string Hex(string s, ref int pos, int n, int line)
    {
        if (pos + n > s.Length || !int.TryParse(s.AsSpan(pos, n), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int code))
        {
            throw new TemplateException($"line {line}: truncated \\x/\\u escape in string");
        }

        pos += n;
        return char.ConvertFromUtf32(code);
    }
}
