using System.Diagnostics.CodeAnalysis;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights;
using Candle.Runtime.Weights.SafeTensors;

namespace Candle.Transformers.Models.Common;

/// <summary>
/// A checkpoint that records which tensors a model read while it was built, so that a checkpoint with tensors the
/// model never read (a config with fewer layers, a misnamed head) is an error instead of a different model.
/// Buffers transformers saves without being parameters (GPT-2's causal mask, rotary inverse frequencies, BERT's
/// position ids) are not counted.
/// </summary>
internal sealed class UnusedTensors : ISafeTensorsSource, IQuantizedWeights
{
    private static readonly string[] BufferSuffixes = [".attn.bias", ".attn.masked_bias", "rotary_emb.inv_freq", "embeddings.position_ids"];
    private readonly ISafeTensorsSource _inner;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public UnusedTensors(ISafeTensorsSource inner) => _inner = inner;

    public IReadOnlyList<string> Names => _inner.Names;

    public IReadOnlyDictionary<string, string> Metadata => _inner.Metadata;

    public bool Contains(string name) => _inner.Contains(name);

    public TensorInfo GetInfo(string name) => _inner.GetInfo(name);

    public HostTensor Get(string name)
    {
        var t = _inner.Get(name);
        lock (_gate) _read.Add(name);
        return t;
    }

    public bool TryGetQuantized(string name, [NotNullWhen(true)] out QuantizedTensor? tensor)
    {
        tensor = null;
        if (_inner is not IQuantizedWeights q || !q.TryGetQuantized(name, out tensor)) return false;
        lock (_gate) _read.Add(name);
        return true;
    }

    /// <summary>The tensors not read, buffers excepted, in checkpoint order.</summary>
    public IReadOnlyList<string> Unused()
    {
        lock (_gate)
        {
            return [.. _inner.Names.Where(n => !_read.Contains(n) && !BufferSuffixes.Any(s => n.EndsWith(s, StringComparison.Ordinal)))];
        }
    }

    /// <summary>Throws when tensors were left unread and <paramref name="allow"/> is false.</summary>
    /// <exception cref="InvalidDataException">The message names the checkpoint, the count and the first unused tensors.</exception>
    public void Check(string location, bool allow)
    {
        if (allow) return;
        var unused = Unused();
        if (unused.Count == 0) return;
        string first = string.Join(", ", unused.Take(3).Select(n => $"'{n}'"));
        throw new InvalidDataException(
            $"{location}: {unused.Count} checkpoint tensor{(unused.Count == 1 ? " is" : "s are")} not used by the model ({first}{(unused.Count > 3 ? ", …" : "")}); the config does not match the checkpoint (allow unused tensors to load it anyway)");
    }

    public void Dispose() => _inner.Dispose();
}
