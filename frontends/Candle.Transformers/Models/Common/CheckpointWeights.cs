using Candle.Runtime;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights;
using Candle.Runtime.Weights.SafeTensors;

namespace Candle.Transformers.Models.Common;

/// <summary>
/// Reads a model's tensors from a checkpoint by their Hugging Face names as the layers are built: each read checks
/// the shape the architecture expects and converts floating-point data to the model's dtype (f16/bf16 checkpoints
/// load into f32 models and back). Same-dtype tensors stay zero-copy views of the memory-mapped file.
/// </summary>
public sealed class CheckpointWeights
{
    private readonly ISafeTensorsSource _source;
    private readonly Func<string, string> _rename;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);
    private long _bytesRead;
    private long _bytesTotal = -1;

    /// <summary>Wraps <paramref name="source"/>.</summary>
    /// <param name="source">The checkpoint.</param>
    /// <param name="dtype">The dtype floating-point tensors are converted to.</param>
    /// <param name="location">What to call the checkpoint in error messages (a directory or file).</param>
    /// <param name="rename">Maps a model tensor name to the name stored in the checkpoint (identity when null).</param>
    public CheckpointWeights(ISafeTensorsSource source, DType dtype, string location, Func<string, string>? rename = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!dtype.IsFloat()) throw new ArgumentException($"the model dtype must be floating-point, not {dtype.TorchName()}", nameof(dtype));
        _source = source;
        DType = dtype;
        Location = location;
        _rename = rename ?? (n => n);
    }

    /// <summary>The dtype floating-point tensors are converted to.</summary>
    public DType DType { get; }

    /// <summary>
    /// Whether <see cref="GetQuantized"/> hands out block-quantized matrices as stored (true by default); false reads
    /// every tensor dequantized.
    /// </summary>
    public bool KeepQuantized { get; init; } = true;

    /// <summary>Receives each tensor once it is first read, with the running totals; null reports nothing.</summary>
    public IProgress<LoadProgress>? Progress { get; init; }

    /// <summary>The checkpoint's location, for messages.</summary>
    public string Location { get; }

    /// <summary>The underlying source (kept alive by the model, since tensors view its memory).</summary>
    public ISafeTensorsSource Source => _source;

    /// <summary>True when the checkpoint has a tensor of that (model) name.</summary>
    public bool Contains(string name) => _source.Contains(_rename(name));

    /// <summary>The tensor <paramref name="name"/>, which must have shape <paramref name="shape"/>.</summary>
    /// <exception cref="InvalidDataException">The tensor is missing, mis-shaped or not floating-point; the message names it and both shapes.</exception>
    public HostTensor Get(string name, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        string stored = _rename(name);
        if (!_source.Contains(stored))
        {
            throw new InvalidDataException($"{Location}: tensor '{stored}' is missing from the checkpoint (expected shape [{string.Join(", ", shape)}])");
        }

        var info = _source.GetInfo(stored);
        if (!info.Shape.SequenceEqual(shape))
        {
            throw new InvalidDataException(
                $"{Location}: tensor '{stored}' has shape [{string.Join(", ", info.Shape)}] in the checkpoint but the model expects [{string.Join(", ", shape)}]");
        }

        if (!info.DType.IsFloat())
        {
            throw new InvalidDataException($"{Location}: tensor '{stored}' is {info.DType.TorchName()}; a floating-point tensor is expected");
        }

        var t = _source.Get(stored);
        var result = t.DType == DType ? t : Convert(t, DType);
        Report(stored, info.Length);
        return result;
    }

    /// <summary>
    /// The matrix <paramref name="name"/> for a layer that multiplies by it: a bfloat16 tensor of a float32 model is
    /// returned as stored (a zero-copy view; the layer casts it in its graph and the compiled GEMM reads the bfloat16
    /// values directly), any other as <see cref="Get"/> returns it.
    /// </summary>
    /// <exception cref="InvalidDataException">As for <see cref="Get"/>.</exception>
    public HostTensor GetMatrix(string name, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        string stored = _rename(name);
        if (DType == DType.F32 && _source.Contains(stored) && _source.GetInfo(stored) is { DType: DType.BF16 } info && info.Shape.SequenceEqual(shape))
        {
            var t = _source.Get(stored);
            Report(stored, info.Length);
            return t;
        }

        return Get(name, shape);
    }

    /// <summary>
    /// The matrix <paramref name="name"/> [<paramref name="rows"/>, <paramref name="cols"/>] in its stored ggml block
    /// format, when the checkpoint stores it block-quantized (<see cref="IQuantizedWeights"/>), the model computes in
    /// float32 and <see cref="KeepQuantized"/> is set; null otherwise (read it with <see cref="GetMatrix"/>).
    /// </summary>
    /// <exception cref="InvalidDataException">The tensor is mis-shaped; the message names it and both shapes.</exception>
    public QuantizedTensor? GetQuantized(string name, int rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(name);
        string stored = _rename(name);
        if (!KeepQuantized || DType != DType.F32 || _source is not IQuantizedWeights q || !_source.Contains(stored)) return null;
        var info = _source.GetInfo(stored);
        if (info.Shape.Count != 2 || info.Shape[0] != rows || info.Shape[1] != cols)
        {
            throw new InvalidDataException(
                $"{Location}: tensor '{stored}' has shape [{string.Join(", ", info.Shape)}] in the checkpoint but the model expects [{rows}, {cols}]");
        }

        if (!q.TryGetQuantized(stored, out var t)) return null;
        Report(stored, info.Length);
        return t;
    }

    private void Report(string stored, long bytes)
    {
        if (Progress is null || !_read.Add(stored)) return;
        if (_bytesTotal < 0) _bytesTotal = _source.Names.Sum(n => _source.GetInfo(n).Length);
        _bytesRead += bytes;
        Progress.Report(new LoadProgress(stored, _read.Count, _source.Names.Count, _bytesRead, _bytesTotal));
    }

    /// <summary>Converts floating-point data, with fast paths for the half-precision to float32 widenings.</summary>
    private static HostTensor Convert(HostTensor t, DType dtype)
    {
        if (dtype != DType.F32 || t.DType is not (DType.F16 or DType.BF16)) return t.Cast(dtype);
        var r = HostTensor.Zeros(DType.F32, t.ShapeArray());
        var dst = r.AsSpan<float>();
        if (t.DType == DType.F16)
        {
            var src = t.AsSpan<Half>();
            for (int i = 0; i < src.Length; i++) dst[i] = (float)src[i];
        }
        else
        {
            var src = t.AsSpan<ushort>();
            var bits = r.AsSpan<uint>();
            for (int i = 0; i < src.Length; i++) bits[i] = (uint)src[i] << 16;
        }

        return r;
    }
}
