using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Candle.Transformers.Tokenizers;

/// <summary>
/// llama.cpp's BPE pre-tokenization (<c>unicode_regex_split</c>): special tokens are cut out first and kept whole, then
/// each regex in turn splits every remaining piece into its matches and the text between them (both kept).
/// </summary>
internal sealed class RegexCascadePreTokenizer : PreTokenizer
{
    private readonly Regex[] _regexes;
    private readonly Regex? _special;

    public RegexCascadePreTokenizer(IEnumerable<string> patterns, IReadOnlyDictionary<string, int> specialTokens)
    {
        _regexes = [.. patterns.Select(p => new Regex(p, RegexOptions.Compiled | RegexOptions.CultureInvariant))];
        var special = specialTokens.Keys.Where(k => k.Length > 0).OrderByDescending(k => k.Length).Select(Regex.Escape).ToList();
        _special = special.Count > 0 ? new Regex(string.Join("|", special), RegexOptions.Compiled | RegexOptions.CultureInvariant) : null;
    }

    public override IEnumerable<(int Offset, int Length)> PreTokenize(string text) => Split(text ?? string.Empty);

    public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => Split(text.ToString());

    private List<(int Offset, int Length)> Split(string text)
    {
        var result = new List<(int Offset, int Length)>();
        int pos = 0;
        if (_special is not null)
        {
            foreach (Match m in _special.Matches(text))
            {
                Cascade(text, pos, m.Index - pos, result);
                result.Add((m.Index, m.Length));
                pos = m.Index + m.Length;
            }
        }

        Cascade(text, pos, text.Length - pos, result);
        return result;
    }

    private void Cascade(string text, int offset, int length, List<(int Offset, int Length)> result)
    {
        if (length == 0) return;
        var pieces = new List<(int Offset, int Length)> { (offset, length) };
        foreach (var regex in _regexes)
        {
            var next = new List<(int Offset, int Length)>(pieces.Count * 2);
            foreach (var (start, len) in pieces)
            {
                int pos = start;
                int end = start + len;
                for (var m = regex.Match(text, start, len); m.Success; m = m.NextMatch())
                {
                    if (m.Length == 0) continue;
                    if (m.Index > pos) next.Add((pos, m.Index - pos));
                    next.Add((m.Index, m.Length));
                    pos = m.Index + m.Length;
                }

                if (end > pos) next.Add((pos, end - pos));
            }

            pieces = next;
        }

        result.AddRange(pieces);
    }
}
