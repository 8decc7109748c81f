using Candle.Runtime;
using Candle.Runtime.Execution;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Generation;

/// <summary>
/// A causal language model compiled for generation: one prefill step and one decode step (each compiled once,
/// with symbolic lengths, by the compiler or loaded from saved plans) and a preallocated <see cref="KvCache"/> they read and fill. A decode step hands the plan
/// the cache rows with room for the new token; compiled plans write the new entries there in place, so no step copies
/// the past. Disposing releases both plans.
/// </summary>
public sealed class DecoderSession : IDisposable
{
    private readonly IExecutable _prefill;
    private readonly IExecutable _decode;
    private readonly int[] _prefillNewKeys, _prefillNewValues, _decodePresentKeys, _decodePresentValues;
    private readonly int _prefillLogits, _decodeLogits;
    private readonly string[] _decodeInputs;
    private readonly GarbageBudget _garbage = new();

    /// <summary>A session over compiled prefill and decode steps; it owns them and disposes them with itself.</summary>
    /// <param name="shape">The model's cache shape, vocabulary, positions and stop tokens.</param>
    /// <param name="prefill">The prefill step, with the inputs and outputs <see cref="DecoderGraphNames"/> names.</param>
    /// <param name="decode">The decode step, with the inputs and outputs <see cref="DecoderGraphNames"/> names.</param>
    /// <exception cref="InvalidOperationException">A step lacks an output generation reads.</exception>
    public DecoderSession(DecoderShape shape, IExecutable prefill, IExecutable decode)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(prefill);
        ArgumentNullException.ThrowIfNull(decode);
        Shape = shape;
        _prefill = prefill;
        _decode = decode;
        int layers = shape.NumLayers;
        _prefillLogits = IndexOf(_prefill.OutputNames, DecoderGraphNames.Logits, "prefill");
        _decodeLogits = IndexOf(_decode.OutputNames, DecoderGraphNames.Logits, "decode");
        _prefillNewKeys = [.. Enumerable.Range(0, layers).Select(l => IndexOf(_prefill.OutputNames, DecoderGraphNames.NewKeys(l), "prefill"))];
        _prefillNewValues = [.. Enumerable.Range(0, layers).Select(l => IndexOf(_prefill.OutputNames, DecoderGraphNames.NewValues(l), "prefill"))];
        _decodePresentKeys = [.. Enumerable.Range(0, layers).Select(l => IndexOf(_decode.OutputNames, DecoderGraphNames.PresentKeys(l), "decode"))];
        _decodePresentValues = [.. Enumerable.Range(0, layers).Select(l => IndexOf(_decode.OutputNames, DecoderGraphNames.PresentValues(l), "decode"))];
        _decodeInputs = [.. _decode.InputNames];
    }

    /// <summary>The model's cache shape, vocabulary, positions and stop tokens.</summary>
    public DecoderShape Shape { get; }

    /// <summary>The cache, once <see cref="Reset"/> has sized it.</summary>
    public KvCache? Cache { get; private set; }

    /// <summary>The number of positions already in the cache.</summary>
    public int Position => Cache?.Length ?? 0;

    /// <summary>
    /// Empties the cache, making sure it holds <paramref name="capacity"/> positions for <paramref name="batch"/> rows
    /// (the memory is reused when it is large enough).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The capacity exceeds the model's maximum positions.</exception>
    public void Reset(int capacity, int batch = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        if (capacity > Shape.MaxPositions)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"the model supports at most {Shape.MaxPositions} positions");
        }

        if (Cache is null || Cache.Capacity < capacity || Cache.Batch != batch)
        {
            Cache = new KvCache(Shape.NumLayers, batch, Shape.NumKvHeads, Shape.HeadDim, capacity, Shape.DType);
        }

        Cache.Clear();
    }

    /// <summary>
    /// Runs the prompt <paramref name="inputIds"/> i64[batch, seq] from position 0, fills the cache, and returns the
    /// logits of the last position, f32[batch, 1, vocab].
    /// </summary>
    /// <exception cref="InvalidOperationException">The cache is not empty or too small (call <see cref="Reset"/>).</exception>
    public HostTensor Prefill(HostTensor inputIds)
    {
        var cache = CheckIds(inputIds);
        if (cache.Length != 0) throw new InvalidOperationException($"prefill needs an empty cache but it holds {cache.Length} positions (call Reset)");
        int seq = inputIds.Shape[1];
        if (_prefill is Plan plan && PrefillWritesIntoCache(plan, cache))
        {
            // The prompt's keys and values are the cache's first rows (it is sequence-major): the plan writes them there.
            var into = new HostTensor?[_prefill.OutputNames.Count];
            for (int l = 0; l < cache.Layers; l++)
            {
                into[_prefillNewKeys[l]] = cache.KeyRows(l, seq);
                into[_prefillNewValues[l]] = cache.ValueRows(l, seq);
            }

            var written = plan.Run([inputIds], into);
            cache.CommitRows([.. _prefillNewKeys.Select(i => written[i])], [.. _prefillNewValues.Select(i => written[i])], seq);
            _garbage.Collect();
            return written[_prefillLogits];
        }

        var outputs = _prefill.Run([inputIds]);
        cache.Commit([.. _prefillNewKeys.Select(i => outputs[i])], [.. _prefillNewValues.Select(i => outputs[i])]);
        _garbage.Collect();
        return outputs[_prefillLogits];
    }

    /// <summary>
    /// Runs one token per row, <paramref name="inputIds"/> i64[batch, 1], at the next position, appends its keys and
    /// values to the cache and returns its logits, f32[batch, 1, vocab].
    /// </summary>
    /// <exception cref="InvalidOperationException">The cache is full or not sized (call <see cref="Reset"/>).</exception>
    public HostTensor Decode(HostTensor inputIds)
    {
        var cache = CheckIds(inputIds);
        if (inputIds.Shape[1] != 1) throw new ArgumentException($"decode takes one token per row, i64[batch, 1], but got [{string.Join(", ", inputIds.Shape)}]", nameof(inputIds));
        int batch = inputIds.Shape[0];
        var positions = new long[batch];
        Array.Fill(positions, cache.Length);
        var args = new HostTensor[_decodeInputs.Length];
        for (int i = 0; i < args.Length; i++)
        {
            args[i] = DecodeInput(_decodeInputs[i], inputIds, HostTensor.FromArray(positions, batch, 1), cache);
        }

        var outputs = _decode.Run(args);
        cache.CommitRows([.. _decodePresentKeys.Select(i => outputs[i])], [.. _decodePresentValues.Select(i => outputs[i])], 1);
        _garbage.Step();
        return outputs[_decodeLogits];
    }

    /// <summary>The compiled prefill step.</summary>
    public IExecutable PrefillPlan => _prefill;

    /// <summary>The compiled decode step.</summary>
    public IExecutable DecodePlan => _decode;

    /// <summary>Releases both compiled plans.</summary>
    public void Dispose()
    {
        _prefill.Dispose();
        _decode.Dispose();
    }

    private static HostTensor DecodeInput(string name, HostTensor ids, HostTensor positions, KvCache cache)
    {
        if (name == DecoderGraphNames.InputIds) return ids;
        if (name == DecoderGraphNames.PositionIds) return positions;
        for (int l = 0; l < cache.Layers; l++)
        {
            if (name == DecoderGraphNames.CacheKeys(l)) return cache.KeyRows(l, ids.Shape[1]);
            if (name == DecoderGraphNames.CacheValues(l)) return cache.ValueRows(l, ids.Shape[1]);
        }

        throw new InvalidOperationException($"the decode graph has an unexpected input '{name}'");
    }

    // The plan's key and value outputs have the cache's element type (then their shapes are the cache rows' shapes).
    private bool PrefillWritesIntoCache(Plan plan, KvCache cache)
    {
        var outs = plan.Definition.Outputs;
        for (int l = 0; l < cache.Layers; l++)
        {
            if (outs[_prefillNewKeys[l]].DType != cache.DType || outs[_prefillNewValues[l]].DType != cache.DType) return false;
        }

        return true;
    }

    private static int IndexOf(IReadOnlyList<string> names, string name, string step)
    {
        for (int i = 0; i < names.Count; i++)
        {
            if (names[i] == name) return i;
        }

        throw new InvalidOperationException($"the {step} graph has no output '{name}' (outputs: {string.Join(", ", names)})");
    }

    private KvCache CheckIds(HostTensor inputIds)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        var cache = Cache ?? throw new InvalidOperationException("the KV cache is not allocated (call Reset)");
        if (inputIds.DType != DType.I64 || inputIds.Rank != 2 || inputIds.Shape[0] != cache.Batch)
        {
            throw new ArgumentException(
                $"input_ids must be i64[{cache.Batch}, seq] but is {inputIds.DType.TorchName()}[{string.Join(", ", inputIds.Shape)}]", nameof(inputIds));
        }

        if (cache.Length + inputIds.Shape[1] > cache.Capacity)
        {
            throw new InvalidOperationException(
                $"the KV cache holds {cache.Capacity} positions; {cache.Length} are used and {inputIds.Shape[1]} more were given (call Reset with a larger capacity)");
        }

        return cache;
    }
}
