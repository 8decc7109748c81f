using System.Globalization;
using System.Text.RegularExpressions;

namespace Candle.Compiler.Backends.Metal;

/// <summary>One parameter of an MSL kernel: its declared type and name, and its buffer index or builtin attribute.</summary>
/// <param name="Type">The declared type (<c>device const float*</c>, <c>constant long*</c>, <c>uint3</c>).</param>
/// <param name="Name">The parameter name.</param>
/// <param name="Buffer">The buffer index of a <c>[[buffer(i)]]</c> parameter, else -1.</param>
/// <param name="Builtin">The attribute of a builtin (<c>thread_position_in_grid</c>...), else null.</param>
internal sealed record MslParameter(string Type, string Name, int Buffer, string? Builtin);

/// <summary>The signature of an MSL <c>kernel</c> function, read from its source.</summary>
/// <param name="Name">The kernel's name.</param>
/// <param name="Parameters">Its parameters in order.</param>
internal sealed partial record MslKernelSignature(string Name, IReadOnlyList<MslParameter> Parameters)
{
    /// <summary>The builtins a kernel may take (Metal's names).</summary>
    public static readonly IReadOnlySet<string> Builtins = new HashSet<string>(StringComparer.Ordinal)
    {
        "thread_position_in_grid", "thread_position_in_threadgroup", "threadgroup_position_in_grid", "threads_per_threadgroup",
        "threadgroups_per_grid", "threads_per_grid", "thread_index_in_threadgroup", "thread_index_in_simdgroup",
        "simdgroup_index_in_threadgroup", "threads_per_simdgroup", "simdgroups_per_threadgroup",
    };

    /// <summary>The number of buffers the kernel binds (the highest buffer index plus one).</summary>
    public int BufferCount => Parameters.Count == 0 ? 0 : Parameters.Max(p => p.Buffer) + 1;

    /// <summary>Every kernel function of an MSL source.</summary>
    /// <exception cref="FormatException">A kernel parameter has neither a buffer index nor a known builtin (the message names it).</exception>
    public static IReadOnlyList<MslKernelSignature> Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var result = new List<MslKernelSignature>();
        foreach (Match m in KernelHead().Matches(source))
        {
            int open = m.Index + m.Length - 1, depth = 0, close = open;
            for (int i = open; i < source.Length; i++)
            {
                if (source[i] == '(') depth++;
                else if (source[i] == ')' && --depth == 0)
                {
                    close = i;
                    break;
                }
            }

            string name = m.Groups[1].Value;
            var parameters = new List<MslParameter>();
            foreach (string raw in SplitTopLevel(source[(open + 1)..close]))
            {
                string p = raw.Trim();
                int attr = p.IndexOf("[[", StringComparison.Ordinal);
                if (attr < 0) throw new FormatException($"MSL kernel '{name}': parameter '{p}' has no attribute");
                string attribute = p[(attr + 2)..p.LastIndexOf("]]", StringComparison.Ordinal)].Trim();
                string decl = p[..attr].Trim();
                var id = LastIdentifier().Match(decl);
                string type = decl[..id.Index].Trim(), pname = id.Value;
                var buffer = BufferAttribute().Match(attribute);
                if (buffer.Success) parameters.Add(new MslParameter(type, pname, int.Parse(buffer.Groups[1].Value, CultureInfo.InvariantCulture), null));
                else if (Builtins.Contains(attribute)) parameters.Add(new MslParameter(type, pname, -1, attribute));
                else throw new FormatException($"MSL kernel '{name}': parameter '{pname}' has the unsupported attribute [[{attribute}]]");
            }

            result.Add(new MslKernelSignature(name, parameters));
        }

        return result;
    }

    private static IEnumerable<string> SplitTopLevel(string s)
    {
        int depth = 0, start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c is '(' or '[' or '<') depth++;
            else if (c is ')' or ']' or '>') depth--;
            else if (c == ',' && depth == 0)
            {
                yield return s[start..i];
                start = i + 1;
            }
        }

        if (s[start..].Trim().Length > 0) yield return s[start..];
    }

    [GeneratedRegex(@"\bkernel\s+void\s+(\w+)\s*\(")]
    private static partial Regex KernelHead();

    [GeneratedRegex(@"\w+$")]
    private static partial Regex LastIdentifier();

    [GeneratedRegex(@"^buffer\s*\(\s*(\d+)\s*\)$")]
    private static partial Regex BufferAttribute();
}
