using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Common;

/// <summary>
/// The base of decoder-only language models: a subclass writes one forward step over token ids, their positions and
/// a <see cref="CacheStep"/>; this class traces it three ways — the full forward pass, the prefill step and the decode
/// step — with the inputs and outputs named by <see cref="DecoderGraphNames"/>.
/// </summary>
public abstract class CausalLanguageModel : Module, ICausalLanguageModel
{
    private readonly CheckpointWeights _weights;
    private DType? _kvCacheDType;

    /// <summary>Initializes the base.</summary>
    /// <param name="config">The config the model was built from.</param>
    /// <param name="weights">The checkpoint; kept alive because the parameters view its memory.</param>
    protected CausalLanguageModel(HfConfig config, CheckpointWeights weights)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        Config = config;
        _weights = weights;
    }

    /// <inheritdoc/>
    public HfConfig Config { get; }

    /// <inheritdoc/>
    public string ModelType => Config.ModelType;

    /// <inheritdoc/>
    public DType DType => _weights.DType;

    /// <summary>
    /// The dtype of the KV cache (<see cref="DType"/> unless set): the prefill step records its new keys and values in
    /// it, the decode step reads and writes its cache rows in it and widens them to <see cref="DType"/> to attend.
    /// Set before tracing the steps.
    /// </summary>
    /// <exception cref="ArgumentException">The dtype is not f32, f16 or bf16.</exception>
    public DType KvCacheDType
    {
        get => _kvCacheDType ?? DType;
        set
        {
            if (value is not (DType.F32 or DType.F16 or DType.BF16))
            {
                throw new ArgumentException($"the KV cache dtype must be f32, f16 or bf16, not {value.TorchName()}", nameof(value));
            }

            _kvCacheDType = value;
        }
    }

    /// <inheritdoc/>
    public abstract int NumLayers { get; }

    /// <inheritdoc/>
    public abstract int NumKvHeads { get; }

    /// <inheritdoc/>
    public abstract int HeadDim { get; }

    /// <inheritdoc/>
    public abstract int VocabSize { get; }

    /// <inheritdoc/>
    public abstract int MaxPositions { get; }

    /// <inheritdoc/>
    public abstract IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>
    /// One forward step: token ids i64[batch, seq] at positions i64[batch or 1, seq], attending to the entries of
    /// <paramref name="cache"/>; returns f32 logits [batch, seq, vocab], or [batch, 1, vocab] of the last position
    /// when <paramref name="lastOnly"/>.
    /// </summary>
    public abstract Tensor Forward(Tensor inputIds, Tensor positionIds, CacheStep cache, bool lastOnly);

    /// <summary><c>input_ids</c> i64[batch, seq] → <c>logits</c> f32[batch, seq, vocab].</summary>
    public Graph TraceForward() => Tracer.Trace(
        this,
        xs => [Forward(xs[0], Positions(xs[0]), CacheStep.None(NumLayers), lastOnly: false)],
        [IdsInput(DecoderGraphNames.SeqSymbol)],
        [DecoderGraphNames.Logits]);

    /// <inheritdoc/>
    public Graph TraceForwardWithAttentionMask() => Tracer.Trace(
        this,
        xs => [Forward(xs[0], Positions(xs[0]), CacheStep.None(NumLayers).WithPaddingMask(AttentionMasks.Padding(xs[1])), lastOnly: false)],
        [IdsInput(DecoderGraphNames.SeqSymbol), new(DecoderGraphNames.AttentionMask, DType.I64, DecoderGraphNames.BatchSymbol, DecoderGraphNames.SeqSymbol)],
        [DecoderGraphNames.Logits]);

    /// <inheritdoc/>
    public Graph TracePrefill()
    {
        var names = new List<string>();
        var graph = Tracer.Trace(
            this,
            xs =>
            {
                var cache = CacheStep.Prefill(NumLayers, KvCacheDType);
                var logits = Forward(xs[0], Positions(xs[0]), cache, lastOnly: true);
                var outs = cache.Outputs().ToList();
                names.Add(DecoderGraphNames.Logits);
                names.AddRange(outs.Select(o => o.Name));
                return [logits, .. outs.Select(o => o.Tensor)];
            },
            [IdsInput(DecoderGraphNames.SeqSymbol)]);
        return new Graph(graph.Inputs, graph.Outputs, names);
    }

    /// <summary>
    /// The decode step: <c>input_ids</c> and <c>position_ids</c> i64[batch, 1] and per layer the donated cache rows
    /// <c>cache_keys.{l}</c> / <c>cache_values.{l}</c> [kv, batch, kv_heads, head_dim] whose last row receives the new
    /// token's entry → <c>logits</c> and <c>present_keys.{l}</c> / <c>present_values.{l}</c> (the updated rows).
    /// </summary>
    public Graph TraceDecode() =>
        TraceDecodeStep(DecoderGraphNames.KvSymbol, (keys, values, xs) => CacheStep.Decode(keys, values, xs[0].Shape[1]));

    /// <summary>
    /// The prefill step from any position (a prompt prefilled in chunks, a conversation's next turn):
    /// <c>input_ids</c> and <c>position_ids</c> i64[batch, seq] and per layer the donated cache rows
    /// <c>cache_keys.{l}</c> / <c>cache_values.{l}</c> [kv, batch, kv_heads, head_dim] (the cached positions followed by
    /// room for the seq new ones) → <c>logits</c> f32[batch, 1, vocab] of the last position and
    /// <c>present_keys.{l}</c> / <c>present_values.{l}</c>, the rows with the new entries written into the last seq.
    /// </summary>
    public Graph TracePrefillChunk() =>
        TraceDecodeStep(DecoderGraphNames.KvSymbol, (keys, values, xs) => CacheStep.Decode(keys, values, xs[0].Shape[1]), DecoderGraphNames.SeqSymbol);

    /// <summary>
    /// The decode step over a fixed-size cache of <paramref name="capacity"/> positions: <c>input_ids</c> and
    /// <c>position_ids</c> i64[batch, 1] and per layer the donated caches <c>cache_keys.{l}</c> / <c>cache_values.{l}</c>
    /// [capacity, batch, kv_heads, head_dim] (row p holds position p; rows after the position are never read) →
    /// <c>logits</c> and the updated caches <c>present_keys.{l}</c> / <c>present_values.{l}</c>, the new entry written
    /// into row <c>position_ids</c> (see <see cref="CacheStep.Static"/>). Every step has the same shapes.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not positive.</exception>
    public Graph TraceStaticDecode(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        return TraceDecodeStep(capacity, (keys, values, xs) => CacheStep.Static(keys, values, xs[1]));
    }

    /// <summary>
    /// A step over cached positions: <c>input_ids</c>, <c>position_ids</c> of <paramref name="newTokens"/> positions (one
    /// when null, a symbol or a size otherwise, then only the last position's logits are computed) and per layer the
    /// donated caches of <paramref name="cacheRows"/> rows (a symbol or a size), traced with the cache step
    /// <paramref name="cacheOf"/> makes of the cache inputs (keys, values) and all inputs.
    /// </summary>
    private Graph TraceDecodeStep(object cacheRows, Func<IReadOnlyList<Tensor>, IReadOnlyList<Tensor>, IReadOnlyList<Tensor>, CacheStep> cacheOf, object? newTokens = null)
    {
        var inputs = new List<TraceInput>
        {
            IdsInput(newTokens ?? 1),
            new(DecoderGraphNames.PositionIds, DType.I64, DecoderGraphNames.BatchSymbol, newTokens ?? 1),
        };
        for (int l = 0; l < NumLayers; l++)
        {
            inputs.Add(new(DecoderGraphNames.CacheKeys(l), KvCacheDType, cacheRows, DecoderGraphNames.BatchSymbol, NumKvHeads, HeadDim) { Donated = true });
            inputs.Add(new(DecoderGraphNames.CacheValues(l), KvCacheDType, cacheRows, DecoderGraphNames.BatchSymbol, NumKvHeads, HeadDim) { Donated = true });
        }

        var names = new List<string>();
        var graph = Tracer.Trace(
            this,
            xs =>
            {
                var cache = cacheOf(
                    [.. Enumerable.Range(0, NumLayers).Select(l => xs[2 + (2 * l)])],
                    [.. Enumerable.Range(0, NumLayers).Select(l => xs[3 + (2 * l)])],
                    xs);
                var logits = Forward(xs[0], xs[1], cache, lastOnly: newTokens is not null);
                var outs = cache.Outputs().ToList();
                names.Add(DecoderGraphNames.Logits);
                names.AddRange(outs.Select(o => o.Name));
                return [logits, .. outs.Select(o => o.Tensor)];
            },
            inputs);
        return new Graph(graph.Inputs, graph.Outputs, names);
    }

    /// <summary>No input has a default: <c>input_ids</c> is required.</summary>
    public HostTensor? DefaultInput(string name, IReadOnlyDictionary<string, HostTensor> given) => null;

    private static TraceInput IdsInput(object seq) => new(DecoderGraphNames.InputIds, DType.I64, DecoderGraphNames.BatchSymbol, seq);

    private static Tensor Positions(Tensor inputIds) => Tensors.Arange(inputIds.Shape[1]).Unsqueeze(0);
}
