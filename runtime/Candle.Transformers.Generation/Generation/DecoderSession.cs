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
    private readonly IExecutable? _chunk;
    private readonly int[] _prefillNewKeys, _prefillNewValues, _decodePresentKeys, _decodePresentValues;
    private readonly int[] _chunkPresentKeys = [], _chunkPresentValues = [];
    private readonly int _prefillLogits, _decodeLogits, _chunkLogits;
    private readonly string[] _decodeInputs;
    private readonly string[] _chunkInputs = [];
    private readonly GarbageBudget _garbage = new();
    private int _prefillChunkLength = DefaultPrefillChunkLength;

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

    /// <summary>
    /// A session over compiled prefill and decode steps and a prefill step from any position, which prefills prompts
    /// longer than <see cref="PrefillChunkLength"/> in chunks and continues from a filled cache; it owns the steps and
    /// disposes them with itself.
    /// </summary>
    /// <param name="shape">The model's cache shape, vocabulary, positions and stop tokens.</param>
    /// <param name="prefill">The prefill step from position 0, with the inputs and outputs <see cref="DecoderGraphNames"/> names.</param>
    /// <param name="decode">The decode step, with the inputs and outputs <see cref="DecoderGraphNames"/> names.</param>
    /// <param name="prefillChunk">
    /// The prefill step from any position: the decode step's inputs and outputs over any number of new positions,
    /// returning the logits of the last one.
    /// </param>
    /// <exception cref="InvalidOperationException">A step lacks an output generation reads.</exception>
    public DecoderSession(DecoderShape shape, IExecutable prefill, IExecutable decode, IExecutable prefillChunk)
        : this(shape, prefill, decode)
    {
        ArgumentNullException.ThrowIfNull(prefillChunk);
        _chunk = prefillChunk;
        int layers = shape.NumLayers;
        _chunkLogits = IndexOf(_chunk.OutputNames, DecoderGraphNames.Logits, "prefill chunk");
        _chunkPresentKeys = [.. Enumerable.Range(0, layers).Select(l => IndexOf(_chunk.OutputNames, DecoderGraphNames.PresentKeys(l), "prefill chunk"))];
        _chunkPresentValues = [.. Enumerable.Range(0, layers).Select(l => IndexOf(_chunk.OutputNames, DecoderGraphNames.PresentValues(l), "prefill chunk"))];
        _chunkInputs = [.. _chunk.InputNames];
    }

    /// <summary>The default of <see cref="PrefillChunkLength"/>.</summary>
    public const int DefaultPrefillChunkLength = 256;

    /// <summary>
    /// The most positions one prefill step runs when the session has a prefill step from any position: a longer prompt
    /// is prefilled in chunks of this many positions, each attending to the cache the earlier ones wrote, so the
    /// step's intermediates are sized by the chunk, not by the prompt. Without such a step it has no effect.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The length is not positive.</exception>
    public int PrefillChunkLength
    {
        get => _prefillChunkLength;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value);
            _prefillChunkLength = value;
        }
    }

    /// <summary>Whether <see cref="Prefill"/> can continue from a filled cache (the session has a prefill step from any position).</summary>
    public bool CanPrefillFromAnyPosition => _chunk is not null;

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
    /// Keeps the first <paramref name="positions"/> entries of the cache and makes sure it holds
    /// <paramref name="capacity"/> positions (a larger cache is allocated and the kept entries copied into it), so that
    /// a prompt starting with tokens whose entries are in the cache goes on with <see cref="Prefill"/> of the rest.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// The cache is not sized (call <see cref="Reset"/>), or entries are kept but the session cannot prefill from any
    /// position.
    /// </exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="positions"/> is negative or beyond <see cref="Position"/>, or <paramref name="capacity"/> is below
    /// it or beyond the model's maximum positions.
    /// </exception>
    public void Keep(int positions, int capacity)
    {
        var cache = Cache ?? throw new InvalidOperationException("the KV cache is not sized yet (call Reset)");
        ArgumentOutOfRangeException.ThrowIfNegative(positions);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(positions, cache.Length);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, positions);
        if (capacity > Shape.MaxPositions)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"the model supports at most {Shape.MaxPositions} positions");
        }

        if (positions > 0 && _chunk is null)
        {
            throw new InvalidOperationException("this session prefills only from an empty cache, so it cannot keep entries for a prompt to continue (compile it with a prefill step from any position)");
        }

        cache.Truncate(positions);
        if (cache.Capacity < capacity)
        {
            var larger = new KvCache(Shape.NumLayers, cache.Batch, Shape.NumKvHeads, Shape.HeadDim, capacity, Shape.DType);
            cache.CopyTo(larger);
            Cache = larger;
        }
    }

    /// <summary>
    /// Runs the prompt <paramref name="inputIds"/> i64[batch, seq] from the cache's position (0 after
    /// <see cref="Reset"/>; any position when <see cref="CanPrefillFromAnyPosition"/>), fills the cache, and returns
    /// the logits of the last position, f32[batch, 1, vocab]. A prompt longer than <see cref="PrefillChunkLength"/> is
    /// run in chunks when the session can prefill from any position.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// The cache is too small, or not empty and the session cannot prefill from any position (call <see cref="Reset"/>).
    /// </exception>
    /// <exception cref="ArgumentException">The prompt is not i64[batch, seq] with at least one position.</exception>
    public HostTensor Prefill(HostTensor inputIds)
    {
        var cache = CheckIds(inputIds);
        int seq = inputIds.Shape[1];
        if (seq == 0) throw new ArgumentException("prefill needs at least one token", nameof(inputIds));
        if (_chunk is not null && (cache.Length != 0 || seq > _prefillChunkLength))
        {
            HostTensor logits = null!;
            for (int start = 0; start < seq; start += _prefillChunkLength)
            {
                logits = PrefillChunk(Columns(inputIds, start, Math.Min(_prefillChunkLength, seq - start)), cache);
            }

            _garbage.Collect();
            return logits;
        }

        if (cache.Length != 0) throw new InvalidOperationException($"prefill needs an empty cache but it holds {cache.Length} positions (call Reset)");
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

    // One chunk of a prompt at the cache's position: the decode step's inputs over n new positions, the new entries
    // written into the cache rows in place by compiled plans.
    private HostTensor PrefillChunk(HostTensor ids, KvCache cache)
    {
        int batch = ids.Shape[0], n = ids.Shape[1];
        var positions = new long[batch * n];
        for (int b = 0; b < batch; b++)
        {
            for (int i = 0; i < n; i++) positions[(b * n) + i] = cache.Length + i;
        }

        var positionIds = HostTensor.FromArray(positions, batch, n);
        var args = new HostTensor[_chunkInputs.Length];
        for (int i = 0; i < args.Length; i++)
        {
            args[i] = DecodeInput(_chunkInputs[i], ids, positionIds, cache);
        }

        var outputs = _chunk!.Run(args);
        cache.CommitRows([.. _chunkPresentKeys.Select(i => outputs[i])], [.. _chunkPresentValues.Select(i => outputs[i])], n);
        return outputs[_chunkLogits];
    }

    // Columns start..start+count of ids i64[batch, seq] (the tensor itself when it is all of them).
    private static HostTensor Columns(HostTensor ids, int start, int count)
    {
        int batch = ids.Shape[0], seq = ids.Shape[1];
        if (start == 0 && count == seq) return ids;
        var all = ids.AsSpan<long>();
        var part = new long[batch * count];
        for (int b = 0; b < batch; b++) all.Slice((b * seq) + start, count).CopyTo(part.AsSpan(b * count, count));
        return HostTensor.FromArray(part, batch, count);
    }

    /// <summary>The compiled prefill step.</summary>
    public IExecutable PrefillPlan => _prefill;

    /// <summary>The compiled decode step.</summary>
    public IExecutable DecodePlan => _decode;

    /// <summary>The compiled prefill step from any position, or null.</summary>
    public IExecutable? PrefillChunkPlan => _chunk;

    /// <summary>Releases the compiled plans.</summary>
    public void Dispose()
    {
        _prefill.Dispose();
        _decode.Dispose();
        _chunk?.Dispose();
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

        throw new InvalidOperationException($"the decode or prefill chunk graph has an unexpected input '{name}'");
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
