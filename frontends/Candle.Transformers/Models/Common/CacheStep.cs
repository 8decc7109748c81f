using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Torch;

namespace Candle.Transformers.Models.Common;

/// <summary>
/// The KV-cache side of one traced forward step. Each attention layer hands its new keys and values
/// ([batch, kv_heads, seq, head_dim], after rope) to <see cref="Update"/>, which returns the keys and values the layer
/// attends to. A prefill step records the new entries as outputs in the cache layout [seq, batch, kv_heads, head_dim].
/// A decode step reads the cache rows [kv, batch, kv_heads, head_dim] (the cached positions followed by room for the
/// new ones), writes the new entries into the last rows with <see cref="Tensor.SliceScatter"/> and attends to the
/// result: a compiled plan writes only the new rows, in place, and never copies the past.
/// </summary>
public sealed class CacheStep
{
    private readonly IReadOnlyList<Tensor>? _cacheKeys;
    private readonly IReadOnlyList<Tensor>? _cacheValues;
    private readonly Tensor?[] _keys;
    private readonly Tensor?[] _values;
    private readonly bool _record;
    private readonly DType? _recordDType;
    private Tensor? _writeRows;

    private CacheStep(int layers, IReadOnlyList<Tensor>? cacheKeys, IReadOnlyList<Tensor>? cacheValues, Dim newTokens, bool record, DType? recordDType = null)
    {
        _recordDType = recordDType;
        _cacheKeys = cacheKeys;
        _cacheValues = cacheValues;
        _keys = new Tensor?[layers];
        _values = new Tensor?[layers];
        _record = record;
        NewTokens = newTokens;
        PastLength = cacheKeys is { Count: > 0 } ? cacheKeys[0].Shape[0] - newTokens : Dim.Zero;
    }

    /// <summary>The number of cached positions before this step (symbolic in a decode graph).</summary>
    public Dim PastLength { get; }

    /// <summary>The number of positions this step adds (0 when nothing is cached).</summary>
    public Dim NewTokens { get; }

    /// <summary>The padding keep mask attention layers combine with their own masks, or null (no padding).</summary>
    public Tensor? PaddingMask { get; private set; }

    /// <summary>Sets the padding keep mask (<see cref="AttentionMasks.Padding"/>) and returns this step.</summary>
    public CacheStep WithPaddingMask(Tensor keepMask)
    {
        ArgumentNullException.ThrowIfNull(keepMask);
        PaddingMask = keepMask;
        return this;
    }

    /// <summary>A full forward pass: nothing cached, nothing recorded.</summary>
    public static CacheStep None(int layers) => new(layers, null, null, Dim.Zero, record: false);

    /// <summary>A prefill step: nothing cached yet; new entries are recorded (in the keys' own dtype).</summary>
    public static CacheStep Prefill(int layers) => new(layers, null, null, Dim.Zero, record: true);

    /// <summary>A prefill step that records its new entries in <paramref name="cacheDType"/>, the KV cache's dtype.</summary>
    public static CacheStep Prefill(int layers, DType cacheDType) => new(layers, null, null, Dim.Zero, record: true, cacheDType);

    /// <summary>
    /// A decode step over cache rows [kv, batch, kv_heads, head_dim] per layer whose last <paramref name="newTokens"/>
    /// rows receive this step's entries; the updated rows are recorded.
    /// </summary>
    public static CacheStep Decode(IReadOnlyList<Tensor> cacheKeys, IReadOnlyList<Tensor> cacheValues, Dim newTokens)
    {
        ArgumentNullException.ThrowIfNull(cacheKeys);
        ArgumentNullException.ThrowIfNull(cacheValues);
        if (cacheKeys.Count != cacheValues.Count) throw new ArgumentException($"{cacheKeys.Count} cache key tensors but {cacheValues.Count} cache value tensors");
        return new(cacheKeys.Count, cacheKeys, cacheValues, newTokens, record: true);
    }

    /// <summary>
    /// A decode step over a fixed-size cache: per layer rows [capacity, batch, kv_heads, head_dim] where row p holds
    /// position p. The new entry (one token) is written into row <paramref name="positionIds"/> (i64[batch, 1]) and the
    /// layer attends to every row under a keep mask of the rows at or before that position, so the step's shapes do
    /// not change from token to token (one recorded GPU graph serves every step). The updated rows are recorded.
    /// </summary>
    /// <exception cref="ArgumentException">The key and value lists differ in length or are empty.</exception>
    public static CacheStep Static(IReadOnlyList<Tensor> cacheKeys, IReadOnlyList<Tensor> cacheValues, Tensor positionIds)
    {
        ArgumentNullException.ThrowIfNull(positionIds);
        var step = Decode(cacheKeys, cacheValues, Dim.One);
        if (cacheKeys.Count == 0) throw new ArgumentException("a static cache step needs at least one layer's cache", nameof(cacheKeys));
        var capacity = cacheKeys[0].Shape[0];
        var batch = positionIds.Shape[0];
        var rows = Tensors.Arange(capacity);
        var at = positionIds.View(batch, Dim.One);
        step._writeRows = rows.View(capacity, Dim.One, Dim.One, Dim.One).Eq(at.Transpose(0, 1).Unsqueeze(-1).Unsqueeze(-1));
        return step.WithPaddingMask(rows.View(Dim.One, Dim.One, Dim.One, capacity) <= at.Unsqueeze(-1).Unsqueeze(-1));
    }

    /// <summary>
    /// Takes layer <paramref name="layer"/>'s new keys and values [batch, kv_heads, seq, head_dim] and returns the
    /// keys and values to attend to, [batch, kv_heads, past + seq, head_dim].
    /// </summary>
    public (Tensor Keys, Tensor Values) Update(int layer, Tensor keys, Tensor values)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(values);
        if (_cacheKeys is null || _cacheValues is null)
        {
            if (_record)
            {
                _keys[layer] = InDType(keys.Permute(2, 0, 1, 3), _recordDType);
                _values[layer] = InDType(values.Permute(2, 0, 1, 3), _recordDType);
            }

            return (keys, values);
        }

        if (_writeRows is { } write)
        {
            var sk = Tensor.Where(write, InDType(keys.Permute(2, 0, 1, 3), _cacheKeys[layer].DType), _cacheKeys[layer]);
            var sv = Tensor.Where(write, InDType(values.Permute(2, 0, 1, 3), _cacheValues[layer].DType), _cacheValues[layer]);
            _keys[layer] = sk;
            _values[layer] = sv;
            return (sk.To(keys.DType).Permute(1, 2, 0, 3), sv.To(values.DType).Permute(1, 2, 0, 3));
        }

        var k = _cacheKeys[layer].SliceScatter(InDType(keys.Permute(2, 0, 1, 3), _cacheKeys[layer].DType), 0, PastLength);
        var v = _cacheValues[layer].SliceScatter(InDType(values.Permute(2, 0, 1, 3), _cacheValues[layer].DType), 0, PastLength);
        _keys[layer] = k;
        _values[layer] = v;
        return (k.To(keys.DType).Permute(1, 2, 0, 3), v.To(values.DType).Permute(1, 2, 0, 3));
    }

    private static Tensor InDType(Tensor t, DType? dtype) => dtype is { } d && d != t.DType ? t.To(d) : t;

    /// <summary>
    /// The recorded outputs, keys then values of each layer, with their <see cref="DecoderGraphNames"/>: a prefill
    /// step's new entries, or a decode step's updated cache rows.
    /// </summary>
    /// <exception cref="InvalidOperationException">A layer did not record its entries.</exception>
    public IEnumerable<(string Name, Tensor Tensor)> Outputs()
    {
        bool decode = _cacheKeys is not null;
        for (int l = 0; l < _keys.Length; l++)
        {
            yield return (decode ? DecoderGraphNames.PresentKeys(l) : DecoderGraphNames.NewKeys(l), _keys[l] ?? throw new InvalidOperationException($"layer {l} recorded no keys"));
            yield return (decode ? DecoderGraphNames.PresentValues(l) : DecoderGraphNames.NewValues(l), _values[l] ?? throw new InvalidOperationException($"layer {l} recorded no values"));
        }
    }
}
