using Candle.Runtime;
using Candle.Runtime.Devices;
using Candle.Runtime.Tensors;

namespace Candle.Transformers.Models.Common;

/// <summary>
/// A preallocated key/value cache for every layer of a decoder held in the memory of a device (a GPU), laid out as
/// <see cref="KvCache"/> is: sequence-major [capacity, batch, kv_heads, head_dim] per layer, so that the filled prefix
/// and the room for a step's new entries are one view of the leading bytes of the layer's buffer. A step reads and
/// fills such views (<see cref="KeyRows"/>, <see cref="ValueRows"/>) on the device; entries cross to the host only
/// through <see cref="ToHost"/>. Disposing frees the device memory.
/// </summary>
public sealed class DeviceKvCache : IDisposable
{
    private readonly DeviceBuffer[] _keys;
    private readonly DeviceBuffer[] _values;
    private readonly DeviceBuffer?[] _lentKeys;
    private readonly DeviceBuffer?[] _lentValues;
    private readonly long _rowBytes;
    private bool _disposed;

    /// <summary>Allocates the cache on <paramref name="device"/> (its contents are undefined until written).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive (capacity may be 0).</exception>
    /// <exception cref="OutOfMemoryException">The device has no room for the cache.</exception>
    public DeviceKvCache(IDevice device, int layers, int batch, int kvHeads, int headDim, int capacity, DType dtype)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(layers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kvHeads);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(headDim);
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        Device = device;
        Layers = layers;
        Batch = batch;
        KvHeads = kvHeads;
        HeadDim = headDim;
        Capacity = capacity;
        DType = dtype;
        _rowBytes = checked((long)batch * kvHeads * headDim * dtype.SizeInBytes());
        long bytes = checked(_rowBytes * capacity);
        _keys = new DeviceBuffer[layers];
        _values = new DeviceBuffer[layers];
        _lentKeys = new DeviceBuffer?[layers];
        _lentValues = new DeviceBuffer?[layers];
        try
        {
            for (int l = 0; l < layers; l++)
            {
                _keys[l] = device.Allocate(bytes);
                _values[l] = device.Allocate(bytes);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The device the entries are on.</summary>
    public IDevice Device { get; }

    /// <summary>Number of layers.</summary>
    public int Layers { get; }

    /// <summary>Batch size.</summary>
    public int Batch { get; }

    /// <summary>Key/value heads per layer.</summary>
    public int KvHeads { get; }

    /// <summary>Head size.</summary>
    public int HeadDim { get; }

    /// <summary>The most positions the cache holds.</summary>
    public int Capacity { get; }

    /// <summary>The element type of the stored keys and values.</summary>
    public DType DType { get; }

    /// <summary>The number of positions filled.</summary>
    public int Length { get; private set; }

    /// <summary>
    /// Whether the last commit queued copies from the step's outputs (which must then outlive them: synchronize the
    /// device before freeing those outputs).
    /// </summary>
    internal bool CopiedOnCommit { get; private set; }

    /// <summary>The cached keys of <paramref name="layer"/>: a device view [length, batch, kv_heads, head_dim].</summary>
    public DeviceTensor Keys(int layer) => View(_keys, layer, Length);

    /// <summary>The cached values of <paramref name="layer"/>: a device view [length, batch, kv_heads, head_dim].</summary>
    public DeviceTensor Values(int layer) => View(_values, layer, Length);

    /// <summary>
    /// The key rows a step that adds <paramref name="newPositions"/> positions reads and fills: a device view
    /// [length + newPositions, batch, kv_heads, head_dim] of the layer's buffer (the filled prefix and room for the new
    /// entries). The cache remembers the view, so that <see cref="CommitRows"/> knows a step's output over it was
    /// written in place.
    /// </summary>
    /// <exception cref="InvalidOperationException">The new positions do not fit in the remaining capacity.</exception>
    public DeviceTensor KeyRows(int layer, int newPositions) => Lend(_keys, _lentKeys, layer, newPositions);

    /// <summary>The value rows a step that adds <paramref name="newPositions"/> positions reads and fills (see <see cref="KeyRows"/>).</summary>
    /// <exception cref="InvalidOperationException">The new positions do not fit in the remaining capacity.</exception>
    public DeviceTensor ValueRows(int layer, int newPositions) => Lend(_values, _lentValues, layer, newPositions);

    /// <summary>
    /// Appends one step's new entries of every layer (each [n, batch, kv_heads, head_dim] on the cache's device) after
    /// the filled prefix with device-to-device copies and advances <see cref="Length"/> by n.
    /// </summary>
    /// <exception cref="ArgumentException">A tensor has the wrong dtype, shape or device, or the layer counts differ.</exception>
    /// <exception cref="InvalidOperationException">The entries do not fit in the remaining capacity.</exception>
    public void Commit(IReadOnlyList<DeviceTensor> newKeys, IReadOnlyList<DeviceTensor> newValues)
    {
        ArgumentNullException.ThrowIfNull(newKeys);
        ArgumentNullException.ThrowIfNull(newValues);
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckLayers(newKeys.Count, newValues.Count);
        int n = -1;
        for (int l = 0; l < Layers; l++)
        {
            int nk = Check(newKeys[l], $"new keys of layer {l}");
            int nv = Check(newValues[l], $"new values of layer {l}");
            if (nk != nv || (n >= 0 && nk != n)) throw new ArgumentException($"new key/value entries of layer {l} cover {nk}/{nv} positions, expected {Math.Max(n, nk)}");
            n = nk;
        }

        CheckRoom(n);
        CopiedOnCommit = n > 0;
        for (int l = 0; l < Layers; l++)
        {
            Device.Copy(newKeys[l].Buffer, 0, _keys[l], Length * _rowBytes, n * _rowBytes);
            Device.Copy(newValues[l].Buffer, 0, _values[l], Length * _rowBytes, n * _rowBytes);
        }

        Length += n;
    }

    /// <summary>
    /// Takes a step's updated rows of every layer ([length + n, batch, kv_heads, head_dim] on the cache's device, as
    /// returned for <see cref="KeyRows"/> and <see cref="ValueRows"/>) and advances <see cref="Length"/> by n. Rows that
    /// are the views last lent for the layer (written in place) are not copied; others have their last n rows copied in
    /// on the device.
    /// </summary>
    /// <exception cref="ArgumentException">A tensor has the wrong dtype, shape or device, or the layer counts differ.</exception>
    /// <exception cref="InvalidOperationException">The entries do not fit in the remaining capacity.</exception>
    public void CommitRows(IReadOnlyList<DeviceTensor> keyRows, IReadOnlyList<DeviceTensor> valueRows, int n)
    {
        ArgumentNullException.ThrowIfNull(keyRows);
        ArgumentNullException.ThrowIfNull(valueRows);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckLayers(keyRows.Count, valueRows.Count);
        CheckRoom(n);
        CopiedOnCommit = false;
        for (int l = 0; l < Layers; l++)
        {
            foreach (var (t, store, lent, what) in new[] { (keyRows[l], _keys[l], _lentKeys[l], "key"), (valueRows[l], _values[l], _lentValues[l], "value") })
            {
                if (Check(t, $"{what} rows of layer {l}") != Length + n)
                {
                    throw new ArgumentException($"{what} rows of layer {l} cover {t.Shape[0]} positions, expected {Length + n}");
                }

                if (!ReferenceEquals(t.Buffer, lent) && n > 0)
                {
                    Device.Copy(t.Buffer, Length * _rowBytes, store, Length * _rowBytes, n * _rowBytes);
                    CopiedOnCommit = true;
                }
            }
        }

        Length += n;
    }

    /// <summary>Forgets every entry (the memory stays allocated).</summary>
    public void Clear() => Length = 0;

    /// <summary>Keeps only the first <paramref name="length"/> positions.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The length is negative or beyond <see cref="Length"/>.</exception>
    public void Truncate(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, Length);
        Length = length;
    }

    /// <summary>
    /// Copies the filled positions into <paramref name="destination"/> on the device (a cache on the same device of the
    /// same layers, rows, heads, head size and dtype with room for them), which then holds exactly these entries.
    /// </summary>
    /// <exception cref="ArgumentException">The destination differs in device or layout, or is too small.</exception>
    public void CopyTo(DeviceKvCache destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ObjectDisposedException.ThrowIf(_disposed, this);
        ObjectDisposedException.ThrowIf(destination._disposed, destination);
        if (!ReferenceEquals(destination.Device, Device) || destination.Layers != Layers || destination.Batch != Batch || destination.KvHeads != KvHeads
            || destination.HeadDim != HeadDim || destination.DType != DType)
        {
            throw new ArgumentException($"a cache on {destination.Device.Name} of {destination.Layers} layers × [{destination.Batch}, {destination.KvHeads}, {destination.HeadDim}] {destination.DType} cannot take the entries of one on {Device.Name} of {Layers} layers × [{Batch}, {KvHeads}, {HeadDim}] {DType}", nameof(destination));
        }

        if (destination.Capacity < Length)
        {
            throw new ArgumentException($"the destination holds {destination.Capacity} positions, fewer than the {Length} to copy", nameof(destination));
        }

        if (ReferenceEquals(destination, this)) return;
        for (int l = 0; l < Layers; l++)
        {
            Device.Copy(_keys[l], 0, destination._keys[l], 0, Length * _rowBytes);
            Device.Copy(_values[l], 0, destination._values[l], 0, Length * _rowBytes);
        }

        destination.Length = Length;
    }

    /// <summary>Copies the filled positions to a new host <see cref="KvCache"/> of the same layout and capacity.</summary>
    /// <exception cref="InsufficientMemoryException">The host cannot hold the cache.</exception>
    public KvCache ToHost()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var host = new KvCache(Layers, Batch, KvHeads, HeadDim, Capacity, DType);
        host.Commit(
            [.. Enumerable.Range(0, Layers).Select(l => Keys(l).Download())],
            [.. Enumerable.Range(0, Layers).Select(l => Values(l).Download())]);
        return host;
    }

    /// <summary>Frees the device memory.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var b in _keys.Concat(_values)) b?.Dispose();
    }

    private DeviceTensor Lend(DeviceBuffer[] store, DeviceBuffer?[] lent, int layer, int newPositions)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(newPositions);
        int rows = Length + newPositions;
        if (rows > Capacity)
        {
            throw new InvalidOperationException($"KV cache is full: {Length} + {newPositions} positions exceed its capacity of {Capacity}");
        }

        var view = View(store, layer, rows);
        lent[layer] = view.Buffer;
        return view;
    }

    private DeviceTensor View(DeviceBuffer[] store, int layer, int rows)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, Layers);
        return DeviceTensor.View(Device.Slice(store[layer], 0, rows * _rowBytes), DType, rows, Batch, KvHeads, HeadDim);
    }

    private void CheckLayers(int keys, int values)
    {
        if (keys != Layers || values != Layers)
        {
            throw new ArgumentException($"KV cache has {Layers} layers but {keys} key and {values} value tensors were given");
        }
    }

    private void CheckRoom(int n)
    {
        if (Length + n > Capacity)
        {
            throw new InvalidOperationException($"KV cache is full: {Length} + {n} positions exceed its capacity of {Capacity}");
        }
    }

    private int Check(DeviceTensor t, string what)
    {
        ArgumentNullException.ThrowIfNull(t, what);
        if (!ReferenceEquals(t.Device, Device))
        {
            throw new ArgumentException($"{what}: the tensor is on {t.Device.Name} but the KV cache is on {Device.Name}");
        }

        if (t.DType != DType || t.Shape.Count != 4 || t.Shape[1] != Batch || t.Shape[2] != KvHeads || t.Shape[3] != HeadDim)
        {
            throw new ArgumentException(
                $"{what}: expected {DType.TorchName()}[n, {Batch}, {KvHeads}, {HeadDim}] but got {t.DType.TorchName()}[{string.Join(", ", t.Shape)}]");
        }

        return t.Shape[0];
    }
}
