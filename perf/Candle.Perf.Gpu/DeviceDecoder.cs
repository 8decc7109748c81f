using Candle.Compiler.Backends;
using Candle.Compiler.Gpu;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Devices;
using Candle.Runtime.Tensors;
using Candle.Transformers.Generation;
using Candle.Transformers.Models.Common;

namespace Candle.Perf.Gpu;

/// <summary>
/// Greedy decoding with the KV cache resident on a GPU: the prefill plan runs once from the host, its new keys and
/// values are uploaded into per-layer cache buffers of a fixed capacity, and each decode step passes the filled rows
/// (plus the new one) as donated views of those buffers to <see cref="GpuExecutable.RunOnDevice"/>; only the token,
/// its position and the logits cross to and from the host, or, with <c>deviceToken</c>, only the token and its position
/// go up and the token the steps chose on the device (<see cref="DecoderGraphNames.NextToken"/>, 8 bytes) comes back,
/// never the logits. With <c>graphs</c> the decode plan is the fixed-size
/// cache step (<see cref="CausalLanguageModel.TraceStaticDecode"/>: the whole cache passed every step, the new entry
/// written at the position, later rows masked), whose binding never changes, so it is recorded once as a CUDA graph and
/// replayed for every token.
/// </summary>
internal sealed class DeviceDecoder : IDisposable
{
    private readonly ICausalLanguageModel _model;
    private readonly GpuExecutable _prefill, _decode;
    private readonly GpuDevice _device;
    private readonly DeviceBuffer[] _keys, _values;
    private readonly DeviceTensor _ids, _pos;
    private readonly long _rowBytes;
    private readonly int _capacity;
    private readonly DeviceTensor[]? _staticInputs;
    private readonly byte[] _token = new byte[sizeof(long)];

    public DeviceDecoder(ICausalLanguageModel model, GpuBackend backend, int capacity, bool graphs = false, bool deviceToken = false)
    {
        _model = model;
        _capacity = capacity;
        DeviceToken = deviceToken;
        Graph WithToken(Graph g) => deviceToken ? DecoderSessionCompilation.WithNextToken(g) : g;
        _prefill = (GpuExecutable)backend.Compile(WithToken(model.TracePrefill()), CompileOptions.Default);
        var decode = graphs
            ? (model as CausalLanguageModel ?? throw new ArgumentException($"{model.GetType().Name} has no fixed-size cache step", nameof(model))).TraceStaticDecode(capacity)
            : model.TraceDecode();
        _decode = (GpuExecutable)backend.Compile(WithToken(decode), CompileOptions.Default);
        _decode.CaptureGraphs = graphs;
        _device = _decode.Device;
        _rowBytes = (long)model.NumKvHeads * model.HeadDim * model.DType.SizeInBytes();
        var zeros = new byte[_rowBytes * capacity];
        _keys = [.. Enumerable.Range(0, model.NumLayers).Select(_ => Zeroed(zeros))];
        _values = [.. Enumerable.Range(0, model.NumLayers).Select(_ => Zeroed(zeros))];
        _ids = DeviceTensor.Allocate(_device, DType.I64, 1, 1);
        _pos = DeviceTensor.Allocate(_device, DType.I64, 1, 1);
        if (graphs) _staticInputs = [.. _decode.InputNames.Select(n => n == DecoderGraphNames.InputIds ? _ids : n == DecoderGraphNames.PositionIds ? _pos : CacheView(n, capacity))];
    }

    /// <summary>What the decode plan's graph capture did: captures, replays, and why it stopped if it did.</summary>
    public string GraphReport => $"{_decode.GraphCaptures} graph captures, {_decode.GraphReplays} replays{(_decode.GraphStatus is { } s ? "; " + s : "")}";

    /// <summary>The decode plan's calls left out because a following call computed them (folded), over every enqueue so far.</summary>
    public long FoldedSteps => _decode.FoldedSteps;

    public int Length { get; private set; }

    /// <summary>Whether the steps choose the greedy token on the device and only it is copied back (else the logits row is).</summary>
    public bool DeviceToken { get; }

    public GpuDevice Device => _device;

    /// <summary>Stopwatch ticks spent in the decode plan's RunOnDevice (the host's work of queuing the steps).</summary>
    public long EnqueueTicks { get; set; }

    /// <summary>The decode plan's calls by kind.</summary>
    public string DescribeDecode() => _decode.DescribeCalls();

    /// <summary>The kernel calls of one decode step.</summary>
    public int DecodeCalls => _decode.CallCount;

    /// <summary>
    /// Runs the prompt from position 0 on the device and returns the greedy next token: the new keys and values are
    /// copied into the cache on the device and only the last position's logits come to the host.
    /// </summary>
    public int Prefill(IReadOnlyList<int> prompt)
    {
        if (prompt.Count > _capacity) throw new ArgumentException($"a prompt of {prompt.Count} tokens exceeds the cache of {_capacity}");
        var ids = HostTensor.FromArray(prompt.Select(t => (long)t).ToArray(), 1, prompt.Count);
        using var dev = DeviceTensor.Upload(ids, _device);
        var outs = _prefill.RunOnDevice([dev]);
        try
        {
            for (int l = 0; l < _model.NumLayers; l++)
            {
                var k = outs[Index(_prefill.OutputNames, DecoderGraphNames.NewKeys(l))].Buffer;
                var v = outs[Index(_prefill.OutputNames, DecoderGraphNames.NewValues(l))].Buffer;
                _device.Copy(k, 0, _keys[l], 0, k.Bytes);
                _device.Copy(v, 0, _values[l], 0, v.Bytes);
            }

            Length = prompt.Count;
            int next = Next(_prefill, outs);
            _prefill.CheckIndexes();
            return next;
        }
        finally
        {
            foreach (var o in outs) o.Dispose();
        }
    }

    /// <summary>Runs one token at the next position and returns the greedy next token.</summary>
    public int Step(int token)
    {
        if (Length >= _capacity) throw new InvalidOperationException($"the cache of {_capacity} positions is full");
        _device.CopyFromHost(BitConverter.GetBytes((long)token), _ids.Buffer, 0);
        _device.CopyFromHost(BitConverter.GetBytes((long)Length), _pos.Buffer, 0);
        int rows = Length + 1;
        IReadOnlyList<DeviceTensor> inputs = _staticInputs ?? [.. _decode.InputNames.Select(name =>
            name == DecoderGraphNames.InputIds ? _ids : name == DecoderGraphNames.PositionIds ? _pos : CacheView(name, rows))];

        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        var outs = _decode.RunOnDevice(inputs);
        EnqueueTicks += System.Diagnostics.Stopwatch.GetTimestamp() - started;
        try
        {
            Length++;
            int next = Next(_decode, outs);
            _decode.CheckIndexes();
            return next;
        }
        finally
        {
            foreach (var o in outs) o.Dispose();
        }
    }

    public void Dispose()
    {
        foreach (var b in _keys.Concat(_values)) b.Dispose();
        _ids.Dispose();
        _pos.Dispose();
        _prefill.Dispose();
        _decode.Dispose();
    }

    private DeviceBuffer Zeroed(byte[] zeros)
    {
        var b = _device.Allocate(zeros.Length);
        _device.CopyFromHost(zeros, b, 0);
        return b;
    }

    private DeviceTensor CacheView(string name, int rows)
    {
        for (int l = 0; l < _model.NumLayers; l++)
        {
            var buf = name == DecoderGraphNames.CacheKeys(l) ? _keys[l] : name == DecoderGraphNames.CacheValues(l) ? _values[l] : null;
            if (buf is not null) return DeviceTensor.View(_device.Slice(buf, 0, _rowBytes * rows), _model.DType, rows, 1, _model.NumKvHeads, _model.HeadDim);
        }

        throw new InvalidOperationException($"the decode graph has an unexpected input '{name}'");
    }

    private static int Index(IReadOnlyList<string> names, string name)
    {
        for (int i = 0; i < names.Count; i++)
        {
            if (names[i] == name) return i;
        }

        throw new InvalidOperationException($"no output '{name}'");
    }

    // The greedy next token: the one the step chose on the device (8 bytes copied back), or the argmax of the last
    // logits row copied to the host.
    private int Next(GpuExecutable step, DeviceTensor[] outs)
    {
        if (!DeviceToken) return ArgMax(LastRow(outs[Index(step.OutputNames, DecoderGraphNames.Logits)]));
        _device.CopyToHost(outs[Index(step.OutputNames, DecoderGraphNames.NextToken)].Buffer, 0, _token);
        return checked((int)BitConverter.ToInt64(_token));
    }

    /// <summary>The last row of a [.., vocab] device tensor, copied to the host.</summary>
    private HostTensor LastRow(DeviceTensor logits)
    {
        int vocab = logits.Shape[^1];
        long rowBytes = (long)vocab * logits.DType.SizeInBytes();
        var row = new byte[rowBytes];
        _device.CopyToHost(logits.Buffer, logits.Buffer.Bytes - rowBytes, row);
        return new HostTensor(logits.DType, [1, vocab], row);
    }

    private static int ArgMax(HostTensor logits)
    {
        var v = logits.ToFloat32();
        int vocab = logits.Shape[^1], start = v.Length - vocab, best = start;
        for (int i = start; i < v.Length; i++)
        {
            if (v[i] > v[best]) best = i;
        }

        return best - start;
    }
}
