using Candle.Compiler.Ir;
using Candle.Torch;

namespace Candle.Transformers.Models.Common;

/// <summary>
/// The KV-cache side of one traced forward step. Each attention layer hands its new keys and values
/// ([batch, kv_heads, seq, head_dim], after rope) to <see cref="Update"/>, which records them as step outputs in the
/// cache layout [seq, batch, kv_heads, head_dim] and returns the past entries followed by the new ones, the keys and
/// values the layer attends to.
/// </summary>
public sealed class CacheStep
{
    private readonly IReadOnlyList<Tensor>? _pastKeys;
    private readonly IReadOnlyList<Tensor>? _pastValues;
    private readonly Tensor?[] _newKeys;
    private readonly Tensor?[] _newValues;
    private readonly bool _record;

    private CacheStep(int layers, IReadOnlyList<Tensor>? pastKeys, IReadOnlyList<Tensor>? pastValues, bool record)
    {
        _pastKeys = pastKeys;
        _pastValues = pastValues;
        _newKeys = new Tensor?[layers];
        _newValues = new Tensor?[layers];
        _record = record;
        PastLength = pastKeys is { Count: > 0 } ? pastKeys[0].Shape[0] : Dim.Zero;
    }

    /// <summary>The number of cached positions before this step (symbolic in a decode graph).</summary>
    public Dim PastLength { get; }

    /// <summary>A full forward pass: nothing cached, nothing recorded.</summary>
    public static CacheStep None(int layers) => new(layers, null, null, record: false);

    /// <summary>A prefill step: nothing cached yet; new entries are recorded.</summary>
    public static CacheStep Prefill(int layers) => new(layers, null, null, record: true);

    /// <summary>A decode step over past entries [past, batch, kv_heads, head_dim] per layer; new entries are recorded.</summary>
    public static CacheStep Decode(IReadOnlyList<Tensor> pastKeys, IReadOnlyList<Tensor> pastValues)
    {
        ArgumentNullException.ThrowIfNull(pastKeys);
        ArgumentNullException.ThrowIfNull(pastValues);
        if (pastKeys.Count != pastValues.Count) throw new ArgumentException($"{pastKeys.Count} past key tensors but {pastValues.Count} past value tensors");
        return new(pastKeys.Count, pastKeys, pastValues, record: true);
    }

    /// <summary>
    /// Records layer <paramref name="layer"/>'s new keys and values [batch, kv_heads, seq, head_dim] and returns the
    /// keys and values to attend to, [batch, kv_heads, past + seq, head_dim].
    /// </summary>
    public (Tensor Keys, Tensor Values) Update(int layer, Tensor keys, Tensor values)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(values);
        if (_record)
        {
            _newKeys[layer] = keys.Permute(2, 0, 1, 3);
            _newValues[layer] = values.Permute(2, 0, 1, 3);
        }

        if (_pastKeys is null || _pastValues is null) return (keys, values);
        var pk = _pastKeys[layer].To(keys.DType).Permute(1, 2, 0, 3);
        var pv = _pastValues[layer].To(values.DType).Permute(1, 2, 0, 3);
        return (Tensors.Cat([pk, keys], 2), Tensors.Cat([pv, values], 2));
    }

    /// <summary>The recorded outputs, keys then values of each layer, with their <see cref="DecoderGraphNames"/>.</summary>
    /// <exception cref="InvalidOperationException">A layer did not record its entries.</exception>
    public IEnumerable<(string Name, Tensor Tensor)> Outputs()
    {
        for (int l = 0; l < _newKeys.Length; l++)
        {
            yield return (DecoderGraphNames.NewKeys(l), _newKeys[l] ?? throw new InvalidOperationException($"layer {l} recorded no keys"));
            yield return (DecoderGraphNames.NewValues(l), _newValues[l] ?? throw new InvalidOperationException($"layer {l} recorded no values"));
        }
    }
}
