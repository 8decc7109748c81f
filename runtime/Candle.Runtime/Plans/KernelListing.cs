namespace Candle.Runtime.Plans;

/// <summary>
/// Reads the specifications of a plan's generated kernels from its kernel listing, where each kernel is written as a
/// <c>.method public static void NAME(...)</c> line followed by a <c>// SPEC</c> line.
/// </summary>
internal static class KernelListing
{
    private const string MethodPrefix = ".method public static void ";
    private const int MaxKernels = 1 << 16;

    /// <summary>The kernels listed in <paramref name="listing"/>, in order.</summary>
    /// <exception cref="PlanFormatException">A method line has no specification line or the listing names too many kernels.</exception>
    public static IReadOnlyList<GeneratedKernelSpec> Specs(string path, string listing)
    {
        var specs = new List<GeneratedKernelSpec>();
        var lines = listing.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (!line.StartsWith(MethodPrefix, StringComparison.Ordinal)) continue;
            int paren = line.IndexOf('(', MethodPrefix.Length);
            if (paren < 0) throw Bad(path, $"listing line {i + 1} has no parameter list");
            string name = line[MethodPrefix.Length..paren];
            string next = i + 1 < lines.Length ? lines[i + 1].TrimEnd('\r').TrimStart() : string.Empty;
            if (!next.StartsWith("// ", StringComparison.Ordinal)) throw Bad(path, $"generated kernel '{name}' (listing line {i + 1}) has no specification line");
            if (specs.Count == MaxKernels) throw Bad(path, $"the listing names more than {MaxKernels} generated kernels");
            specs.Add(new GeneratedKernelSpec(name, next[3..]));
            i++;
        }

        return specs;
    }

    private static PlanFormatException Bad(string path, string problem) => new($"{path}: kernel listing: {problem}");
}
