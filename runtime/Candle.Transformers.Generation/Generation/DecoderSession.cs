using Candle.Runtime;
using Candle.Runtime.Devices;
using Candle.Runtime.Execution;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Generation;

/// <summary>
/// A causal language model compiled for generation: one prefill step and one decode step (each compiled once,
/// with symbolic lengths, by the compiler or loaded from saved plans) and a preallocated <see cref="KvCache"/> they read and fill. A decode step hands the plan
/// the cache rows with room for the new token; compiled plans write the new entries there in place, so no step copies
/// the past. When the steps run on an accelerator (each an <see cref="IDeviceExecutable"/> whose device is not the host,
/// all on one device) the cache is a <see cref="DeviceKvCache"/> on that device instead: every step runs through
/// <see cref="IDeviceExecutable.RunOnDevice"/>: the decode step and the prefill from any position on views of the
/// cache's rows that they write their new entries into in place, the prefill from position 0 with its new entries
/// copied into the cache on the device; only the token ids and their positions cross to the device, and the last
/// position's logits, or, for greedy decoding through <see cref="PrefillGreedy"/> and <see cref="DecodeGreedy"/> with
/// steps that return <see cref="DecoderGraphNames.NextToken"/> (<see cref="GreedyOnDevice"/>), only the chosen token
/// (8 bytes a batch row) come back to the host.
/// Disposing releases the plans and the device cache.
/// </summary>
public sealed class DecoderSession : IDisposable
{
    private readonly IExecutable _prefill;
    private readonly IExecutable _decode;
    private readonly IExecutable? _chunk;
    private readonly int[] _prefillNewKeys, _prefillNewValues, _decodePresentKeys, _decodePresentValues;
    private readonly int[] _chunkPresentKeys = [], _chunkPresentValues = [];
    private readonly int _prefillLogits, _decodeLogits, _chunkLogits;
    private readonly int _prefillToken, _decodeToken, _chunkToken = -1;
    private readonly string[] _decodeInputs;
    private readonly string[] _chunkInputs = [];
    private readonly GarbageBudget _garbage = new();
    private readonly IDevice? _device;
    private int _prefillChunkLength = DefaultPrefillChunkLength;
    private DeviceBuffer? _stagedIds, _stagedPositions;

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
        _prefillToken = Find(_prefill.OutputNames, DecoderGraphNames.NextToken);
        _decodeToken = Find(_decode.OutputNames, DecoderGraphNames.NextToken);
        _prefillNewKeys = [.. Enumerable.Range(0, layers).Select(l => IndexOf(_prefill.OutputNames, DecoderGraphNames.NewKeys(l), "prefill"))];
        _prefillNewValues = [.. Enumerable.Range(0, layers).Select(l => IndexOf(_prefill.OutputNames, DecoderGraphNames.NewValues(l), "prefill"))];
        _decodePresentKeys = [.. Enumerable.Range(0, layers).Select(l => IndexOf(_decode.OutputNames, DecoderGraphNames.PresentKeys(l), "decode"))];
        _decodePresentValues = [.. Enumerable.Range(0, layers).Select(l => IndexOf(_decode.OutputNames, DecoderGraphNames.PresentValues(l), "decode"))];
        _decodeInputs = [.. _decode.InputNames];
        _device = prefill is IDeviceExecutable { Device.IsHost: false } p && decode is IDeviceExecutable d && ReferenceEquals(d.Device, p.Device) ? p.Device : null;
        GreedyOnDevice = Environment.GetEnvironmentVariable(GreedyOnHostVariable) != "1";
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
        _chunkToken = Find(_chunk.OutputNames, DecoderGraphNames.NextToken);
        _chunkPresentKeys = [.. Enumerable.Range(0, layers).Select(l => IndexOf(_chunk.OutputNames, DecoderGraphNames.PresentKeys(l), "prefill chunk"))];
        _chunkPresentValues = [.. Enumerable.Range(0, layers).Select(l => IndexOf(_chunk.OutputNames, DecoderGraphNames.PresentValues(l), "prefill chunk"))];
        _chunkInputs = [.. _chunk.InputNames];
        if (!(prefillChunk is IDeviceExecutable c && ReferenceEquals(c.Device, _device))) _device = null;
    }

    /// <summary>Set to 1, <see cref="GreedyOnDevice"/> starts false: greedy decoding copies the logits back and picks on the host.</summary>
    public const string GreedyOnHostVariable = "CANDLE_GREEDY_ON_HOST";

    /// <summary>
    /// Whether <see cref="PrefillGreedy"/> and <see cref="DecodeGreedy"/> copy back only the token the steps chose on the
    /// device (<see cref="DecoderGraphNames.NextToken"/>) when <see cref="ChoosesTokenOnDevice"/>; when false they copy
    /// the last position's logits and pick on the host, as <see cref="Sampler.ArgMax"/>. True unless
    /// <see cref="GreedyOnHostVariable"/> is 1 when the session is made.
    /// </summary>
    public bool GreedyOnDevice { get; set; }

    /// <summary>
    /// Whether greedy decoding copies back only the chosen tokens: the cache is on a device
    /// (<see cref="CacheOnDevice"/>), every step returns <see cref="DecoderGraphNames.NextToken"/> (steps compiled for a
    /// device do; plans saved without it do not, and then the logits come back) and <see cref="GreedyOnDevice"/> is on.
    /// </summary>
    public bool ChoosesTokenOnDevice =>
        GreedyOnDevice && _device is not null && _prefillToken >= 0 && _decodeToken >= 0 && (_chunk is null || _chunkToken >= 0);

    /// <summary>
    /// The bytes the steps copied from the device to the host since the session was made (logits rows or chosen tokens);
    /// 0 when the steps run on the host.
    /// </summary>
    public long BytesCopiedToHost { get; private set; }

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

    /// <summary>
    /// The cache in host memory, once <see cref="Reset"/> has sized it; null when the cache is on a device
    /// (<see cref="CacheOnDevice"/>: see <see cref="DeviceCache"/>, and <see cref="DeviceKvCache.ToHost"/> for a copy).
    /// </summary>
    public KvCache? Cache { get; private set; }

    /// <summary>
    /// The cache on the steps' device, once <see cref="Reset"/> has sized it, when <see cref="CacheOnDevice"/>; null
    /// otherwise. The session owns it and disposes it with itself.
    /// </summary>
    public DeviceKvCache? DeviceCache { get; private set; }

    /// <summary>
    /// Whether the KV cache stays on an accelerator: the steps are <see cref="IDeviceExecutable"/>s on one device that is
    /// not the host, so only token ids, positions and the last position's logits (or, for greedy decoding with
    /// <see cref="ChoosesTokenOnDevice"/>, only the chosen tokens) cross to and from the host.
    /// </summary>
    public bool CacheOnDevice => _device is not null;

    /// <summary>The number of positions already in the cache.</summary>
    public int Position => Cache?.Length ?? DeviceCache?.Length ?? 0;

    /// <summary>
    /// Empties the cache, making sure it holds <paramref name="capacity"/> positions for <paramref name="batch"/> rows
    /// (the memory is reused when it is large enough; with <see cref="CacheOnDevice"/> it is device memory).
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

        if (_device is not null)
        {
            if (DeviceCache is null || DeviceCache.Capacity < capacity || DeviceCache.Batch != batch)
            {
                DeviceCache?.Dispose();
                DeviceCache = null;
                DeviceCache = new DeviceKvCache(_device, Shape.NumLayers, batch, Shape.NumKvHeads, Shape.HeadDim, capacity, Shape.DType);
            }

            DeviceCache.Clear();
            return;
        }

        if (Cache is null || Cache.Capacity < capacity || Cache.Batch != batch)
        {
            Cache = new KvCache(Shape.NumLayers, batch, Shape.NumKvHeads, Shape.HeadDim, capacity, Shape.DType);
        }

        Cache.Clear();
    }

    /// <summary>
    /// Keeps the first <paramref name="positions"/> entries of the cache and makes sure it holds
    /// <paramref name="capacity"/> positions (a larger cache is allocated and the kept entries copied into it, on the
    /// device for a <see cref="DeviceCache"/>), so that a prompt starting with tokens whose entries are in the cache goes
    /// on with <see cref="Prefill"/> of the rest.
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
        if (Cache is null && DeviceCache is null) throw new InvalidOperationException("the KV cache is not sized yet (call Reset)");
        ArgumentOutOfRangeException.ThrowIfNegative(positions);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(positions, Position);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, positions);
        if (capacity > Shape.MaxPositions)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"the model supports at most {Shape.MaxPositions} positions");
        }

        if (positions > 0 && _chunk is null)
        {
            throw new InvalidOperationException("this session prefills only from an empty cache, so it cannot keep entries for a prompt to continue (compile it with a prefill step from any position)");
        }

        if (DeviceCache is { } onDevice)
        {
            onDevice.Truncate(positions);
            if (onDevice.Capacity < capacity)
            {
                var larger = new DeviceKvCache(onDevice.Device, Shape.NumLayers, onDevice.Batch, Shape.NumKvHeads, Shape.HeadDim, capacity, Shape.DType);
                try
                {
                    onDevice.CopyTo(larger);
                    onDevice.Device.Synchronize();
                }
                catch
                {
                    larger.Dispose();
                    throw;
                }

                DeviceCache = larger;
                onDevice.Dispose();
            }

            return;
        }

        var cache = Cache!;
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
    /// <exception cref="ArgumentException">
    /// The prompt is not i64[batch, seq] with at least one position, or (on a device, where the step is checked after it
    /// ran) a token id is out of the vocabulary; the cache then does not advance past the chunks before it.
    /// </exception>
    public HostTensor Prefill(HostTensor inputIds)
    {
        if (_device is not null) return PrefillOnDevice(inputIds, greedy: false);
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
    /// <exception cref="ArgumentException">
    /// The ids are not i64[batch, 1], or (on a device, where the step is checked after it ran) a token id is out of the
    /// vocabulary; the cache then does not advance.
    /// </exception>
    /// <exception cref="InvalidOperationException">The cache is full or not sized (call <see cref="Reset"/>).</exception>
    public HostTensor Decode(HostTensor inputIds)
    {
        if (_device is not null) return DecodeOnDevice(inputIds, greedy: false);
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

    /// <summary>
    /// <see cref="Prefill"/>, returning the greedy next token of each row (the first maximal logit of the last position, a
    /// NaN counting as the maximum, as <see cref="Sampler.ArgMax"/>) instead of the logits. When
    /// <see cref="ChoosesTokenOnDevice"/> the steps choose it on the device and only the tokens are copied back.
    /// </summary>
    /// <exception cref="InvalidOperationException">As <see cref="Prefill"/>.</exception>
    /// <exception cref="ArgumentException">As <see cref="Prefill"/>.</exception>
    public long[] PrefillGreedy(HostTensor inputIds) =>
        ChoosesTokenOnDevice ? PrefillOnDevice(inputIds, greedy: true).AsSpan<long>().ToArray() : ArgMaxRows(Prefill(inputIds));

    /// <summary>
    /// <see cref="Decode"/>, returning the greedy next token of each row instead of the logits (see
    /// <see cref="PrefillGreedy"/>); when <see cref="ChoosesTokenOnDevice"/> only the tokens are copied back.
    /// </summary>
    /// <exception cref="InvalidOperationException">As <see cref="Decode"/>.</exception>
    /// <exception cref="ArgumentException">As <see cref="Decode"/>.</exception>
    public long[] DecodeGreedy(HostTensor inputIds) =>
        ChoosesTokenOnDevice ? DecodeOnDevice(inputIds, greedy: true).AsSpan<long>().ToArray() : ArgMaxRows(Decode(inputIds));

    // The host's greedy choice of each row of logits [batch, 1, vocab].
    private static long[] ArgMaxRows(HostTensor logits)
    {
        int batch = logits.Shape[0], vocab = logits.Shape[^1];
        var all = logits.ToFloat32();
        var tokens = new long[batch];
        var row = new double[vocab];
        for (int b = 0; b < batch; b++)
        {
            for (int i = 0; i < vocab; i++) row[i] = all[(b * vocab) + i];
            tokens[b] = Sampler.ArgMax(row);
        }

        return tokens;
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

    // The prompt on the device: the prefill step from position 0 (its new entries copied into the cache on the device),
    // or chunks of the prefill step from any position over views of the cache rows. With greedy, the result is the
    // steps' chosen tokens, i64[batch], instead of the logits.
    private HostTensor PrefillOnDevice(HostTensor inputIds, bool greedy)
    {
        var cache = CheckDeviceIds(inputIds);
        int seq = inputIds.Shape[1];
        if (seq == 0) throw new ArgumentException("prefill needs at least one token", nameof(inputIds));
        HostTensor logits;
        if (_chunk is not null && (cache.Length != 0 || seq > _prefillChunkLength))
        {
            logits = null!;
            for (int start = 0; start < seq; start += _prefillChunkLength)
            {
                var ids = Columns(inputIds, start, Math.Min(_prefillChunkLength, seq - start));
                bool last = start + _prefillChunkLength >= seq;
                logits = StepOnDevice((IDeviceExecutable)_chunk, _chunkInputs, _chunkPresentKeys, _chunkPresentValues, !last ? -1 : greedy ? _chunkToken : _chunkLogits, greedy, ids, cache)!;
            }
        }
        else
        {
            if (cache.Length != 0) throw new InvalidOperationException($"prefill needs an empty cache but it holds {cache.Length} positions (call Reset)");
            var prefill = (IDeviceExecutable)_prefill;
            var outputs = prefill.RunOnDevice([Staged(ref _stagedIds, inputIds)]);
            try
            {
                logits = greedy ? Tokens(outputs[_prefillToken]) : LastPosition(outputs[_prefillLogits]);
                prefill.CheckIndexes();
                cache.Commit([.. _prefillNewKeys.Select(i => outputs[i])], [.. _prefillNewValues.Select(i => outputs[i])]);
            }
            finally
            {
                Release(outputs, cache);
            }
        }

        _garbage.Collect();
        return logits;
    }

    private HostTensor DecodeOnDevice(HostTensor inputIds, bool greedy)
    {
        var cache = CheckDeviceIds(inputIds);
        if (inputIds.Shape[1] != 1) throw new ArgumentException($"decode takes one token per row, i64[batch, 1], but got [{string.Join(", ", inputIds.Shape)}]", nameof(inputIds));
        var logits = StepOnDevice((IDeviceExecutable)_decode, _decodeInputs, _decodePresentKeys, _decodePresentValues, greedy ? _decodeToken : _decodeLogits, greedy, inputIds, cache)!;
        _garbage.Step();
        return logits;
    }

    // One step over the cache's rows on the device (the decode step, or a chunk of the prefill step from any position):
    // the ids and positions go up, the step writes the new entries into the lent rows (or they are copied there on the
    // device), and only the last position's logits come down, or with greedy only the tokens the step chose (output
    // resultIndex), or nothing when resultIndex is -1 (a prompt's chunk before its last). The cache advances once the
    // step's indexes are checked.
    private HostTensor? StepOnDevice(IDeviceExecutable step, string[] inputNames, int[] presentKeys, int[] presentValues, int resultIndex, bool greedy, HostTensor ids, DeviceKvCache cache)
    {
        int batch = ids.Shape[0], n = ids.Shape[1];
        var positions = new long[batch * n];
        for (int b = 0; b < batch; b++)
        {
            for (int i = 0; i < n; i++) positions[(b * n) + i] = cache.Length + i;
        }

        var idsOnDevice = Staged(ref _stagedIds, ids);
        var positionsOnDevice = Staged(ref _stagedPositions, HostTensor.FromArray(positions, batch, n));
        var args = new DeviceTensor[inputNames.Length];
        for (int i = 0; i < args.Length; i++)
        {
            args[i] = DeviceInput(inputNames[i], idsOnDevice, positionsOnDevice, cache, n);
        }

        var outputs = step.RunOnDevice(args);
        try
        {
            var logits = resultIndex < 0 ? null : greedy ? Tokens(outputs[resultIndex]) : LastPosition(outputs[resultIndex]);
            step.CheckIndexes();
            cache.CommitRows([.. presentKeys.Select(i => outputs[i])], [.. presentValues.Select(i => outputs[i])], n);
            return logits;
        }
        finally
        {
            Release(outputs, cache);
        }
    }

    // Frees a step's outputs once the copies the cache queued from them have run.
    private void Release(DeviceTensor[] outputs, DeviceKvCache cache)
    {
        if (cache.CopiedOnCommit) _device!.Synchronize();
        foreach (var o in outputs) o.Dispose();
    }

    private static DeviceTensor DeviceInput(string name, DeviceTensor ids, DeviceTensor positions, DeviceKvCache cache, int newPositions)
    {
        if (name == DecoderGraphNames.InputIds) return ids;
        if (name == DecoderGraphNames.PositionIds) return positions;
        for (int l = 0; l < cache.Layers; l++)
        {
            if (name == DecoderGraphNames.CacheKeys(l)) return cache.KeyRows(l, newPositions);
            if (name == DecoderGraphNames.CacheValues(l)) return cache.ValueRows(l, newPositions);
        }

        throw new InvalidOperationException($"the decode or prefill chunk graph has an unexpected input '{name}'");
    }

    // The host tensor's bytes in a device tensor of its dtype and shape: a view of the leading bytes of a buffer kept
    // between steps and reallocated only when a step needs more, so neither a decode step nor a chunk of a prompt, nor
    // the switches between them, allocate device memory for their ids and positions.
    private DeviceTensor Staged(ref DeviceBuffer? slot, HostTensor t)
    {
        long bytes = t.Data.Length;
        if (slot is null || slot.Bytes < bytes)
        {
            slot?.Dispose();
            slot = null;
            slot = _device!.Allocate(bytes);
        }

        var staged = DeviceTensor.View(_device!.Slice(slot, 0, bytes), t.DType, t.ShapeArray());
        _device.CopyFromHost(t.Data.Span, staged.Buffer, 0);
        return staged;
    }

    // The tokens a step chose, i64[batch], copied to the host.
    private HostTensor Tokens(DeviceTensor tokens)
    {
        if (tokens.DType != DType.I64 || tokens.Shape.Count != 1) throw new InvalidOperationException($"the step's {DecoderGraphNames.NextToken} is {tokens}, not i64[batch]");
        var host = tokens.Download();
        BytesCopiedToHost += host.Data.Length;
        return host;
    }

    // The logits of each row's last position, f32[batch, 1, vocab] on the host, from logits [batch, ..., vocab] on the
    // device: only those rows are copied (the whole tensor when it has one position per row).
    private HostTensor LastPosition(DeviceTensor logits)
    {
        if (logits.Shape.Count < 2) throw new InvalidOperationException($"the step's logits are {logits}, not [batch, ..., vocab]");
        int batch = logits.Shape[0], vocab = logits.Shape[^1];
        long perRow = 1;
        for (int d = 1; d < logits.Shape.Count - 1; d++) perRow *= logits.Shape[d];
        if (perRow == 1)
        {
            var all = logits.Download();
            BytesCopiedToHost += all.Data.Length;
            return all.Reshape(batch, 1, vocab);
        }

        if (perRow == 0) throw new InvalidOperationException($"the step's logits {logits} hold no position");
        long rowBytes = (long)vocab * logits.DType.SizeInBytes();
        var host = HostTensor.Zeros(logits.DType, batch, 1, vocab);
        for (int b = 0; b < batch; b++)
        {
            logits.Device.CopyToHost(logits.Buffer, (((b * perRow) + perRow - 1) * rowBytes), host.Data.Span.Slice((int)(b * rowBytes), (int)rowBytes));
        }

        BytesCopiedToHost += batch * rowBytes;

        return host;
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

    /// <summary>Releases the compiled plans and the device cache.</summary>
    public void Dispose()
    {
        DeviceCache?.Dispose();
        DeviceCache = null;
        _stagedIds?.Dispose();
        _stagedPositions?.Dispose();
        _stagedIds = _stagedPositions = null;
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
        int i = Find(names, name);
        if (i >= 0) return i;
        throw new InvalidOperationException($"the {step} graph has no output '{name}' (outputs: {string.Join(", ", names)})");
    }

    // The index of an output, or -1 when the step does not have it.
    private static int Find(IReadOnlyList<string> names, string name)
    {
        for (int i = 0; i < names.Count; i++)
        {
            if (names[i] == name) return i;
        }

        return -1;
    }

    private KvCache CheckIds(HostTensor inputIds)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        var cache = Cache ?? throw new InvalidOperationException("the KV cache is not allocated (call Reset)");
        CheckIds(inputIds, cache.Batch, cache.Length, cache.Capacity);
        return cache;
    }

    private DeviceKvCache CheckDeviceIds(HostTensor inputIds)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        var cache = DeviceCache ?? throw new InvalidOperationException("the KV cache is not allocated (call Reset)");
        CheckIds(inputIds, cache.Batch, cache.Length, cache.Capacity);
        return cache;
    }

    private static void CheckIds(HostTensor inputIds, int batch, int length, int capacity)
    {
        if (inputIds.DType != DType.I64 || inputIds.Rank != 2 || inputIds.Shape[0] != batch)
        {
            throw new ArgumentException(
                $"input_ids must be i64[{batch}, seq] but is {inputIds.DType.TorchName()}[{string.Join(", ", inputIds.Shape)}]", nameof(inputIds));
        }

        if (length + inputIds.Shape[1] > capacity)
        {
            throw new InvalidOperationException(
                $"the KV cache holds {capacity} positions; {length} are used and {inputIds.Shape[1]} more were given (call Reset with a larger capacity)");
        }
    }
}
