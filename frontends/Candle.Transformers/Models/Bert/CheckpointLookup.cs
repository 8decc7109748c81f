using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;

namespace Candle.Transformers.Models.Bert;

/// <summary>
/// Finds a module's tensors in a checkpoint by their transformers names: under the first prefix the checkpoint uses
/// (for example <c>bert.</c> when a BertForMaskedLM checkpoint is loaded as a BertModel) and under the legacy
/// layer-norm names (<c>gamma</c>, <c>beta</c>) that transformers still renames on load.
/// </summary>
public sealed class CheckpointLookup
{
    private readonly ISafeTensorsSource _source;

    /// <summary>Picks the first of <paramref name="prefixes"/> under which the checkpoint has <paramref name="probeName"/>.</summary>
    public CheckpointLookup(ISafeTensorsSource source, string probeName, params string[] prefixes)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(prefixes);
        if (prefixes.Length == 0) prefixes = [""];
        _source = source;
        Prefix = prefixes.FirstOrDefault(p => source.Contains(p + probeName)) ?? prefixes[0];
    }

    /// <summary>The prefix the checkpoint's names carry.</summary>
    public string Prefix { get; }

    /// <summary>True when the checkpoint has the tensor <paramref name="name"/> (relative to the prefix).</summary>
    public bool Contains(string name) => Resolve(name) is not null;

    /// <summary>The tensor <paramref name="name"/> (relative to the prefix), or null when absent.</summary>
    public HostTensor? Get(string name) => Resolve(name) is { } full ? _source.Get(full) : null;

    /// <summary>The names under the prefix, relative to it.</summary>
    public IEnumerable<string> Names => _source.Names.Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)).Select(n => n[Prefix.Length..]);

    private string? Resolve(string name)
    {
        string full = Prefix + name;
        if (_source.Contains(full)) return full;
        string? legacy = name.EndsWith(".weight", StringComparison.Ordinal) ? name[..^".weight".Length] + ".gamma"
            : name.EndsWith(".bias", StringComparison.Ordinal) ? name[..^".bias".Length] + ".beta" : null;
        return legacy is not null && legacy.Contains("LayerNorm", StringComparison.Ordinal) && _source.Contains(Prefix + legacy) ? Prefix + legacy : null;
    }
}
