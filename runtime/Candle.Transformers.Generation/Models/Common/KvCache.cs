using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Transformers.Models.Common;

/// <summary>
/// A preallocated key/value cache for every layer of a decoder, stored sequence-major as
/// [capacity, batch, kv_heads, head_dim] so that the filled prefix [length, batch, kv_heads, head_dim] is one
/// contiguous, zero-copy view. A decode step reads <see cref="Keys"/> and <see cref="Values"/> as its past inputs
/// and <see cref="Commit"/> writes the step's new entries after them: nothing is reallocated or copied per token
/// beyond the new entries themselves.
/// </summary>
public sealed class KvCache
{
    private readonly byte[][] _keys;
    private readonly byte[][] _values;
    private readonly int _rowBytes;

    /// <summary>Allocates the cache.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive (capacity may be 0).</exception>
    /// <exception cref="InsufficientMemoryException">The cache needs more memory than the process may use.</exception>
    public KvCache(int layers, int batch, int kvHeads, int headDim, int capacity, DType dtype)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(layers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kvHeads);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(headDim);
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        Layers = layers;
        Batch = batch;
        KvHeads = kvHeads;
        HeadDim = headDim;
        Capacity = capacity;
        DType = dtype;
        _rowBytes = checked(batch * kvHeads * headDim * dtype.SizeInBytes());
        long bytes = (long)_rowBytes * capacity;
        if (bytes > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"a cache layer of {bytes} bytes is too large");
        long total = bytes * 2 * layers;
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (total > available)
        {
            throw new InsufficientMemoryException(
                $"the KV cache for {capacity} positions × {batch} rows needs {total / (1 << 20)} MiB; {available / (1 << 20)} MiB are available");
        }
        _keys = [.. Enumerable.Range(0, layers).Select(_ => new byte[bytes])];
        _values = [.. Enumerable.Range(0, layers).Select(_ => new byte[bytes])];
    }

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

    /// <summary>The cached keys of <paramref name="layer"/>: a view [length, batch, kv_heads, head_dim].</summary>
    public HostTensor Keys(int layer) => View(_keys, layer);

    /// <summary>The cached values of <paramref name="layer"/>: a view [length, batch, kv_heads, head_dim].</summary>
    public HostTensor Values(int layer) => View(_values, layer);

    /// <summary>
    /// Appends one step's new entries of every layer (each [n, batch, kv_heads, head_dim]) after the filled prefix
    /// and advances <see cref="Length"/> by n.
    /// </summary>
    /// <exception cref="ArgumentException">A tensor has the wrong dtype or shape, or the layer counts differ.</exception>
    /// <exception cref="InvalidOperationException">The entries do not fit in the remaining capacity.</exception>
    public void Commit(IReadOnlyList<HostTensor> newKeys, IReadOnlyList<HostTensor> newValues)
    {
        ArgumentNullException.ThrowIfNull(newKeys);
        ArgumentNullException.ThrowIfNull(newValues);
        if (newKeys.Count != Layers || newValues.Count != Layers)
        {
            throw new ArgumentException($"KV cache has {Layers} layers but {newKeys.Count} key and {newValues.Count} value tensors were given");
        }

        int n = -1;
        for (int l = 0; l < Layers; l++)
        {
            int nk = Check(newKeys[l], $"new keys of layer {l}");
            int nv = Check(newValues[l], $"new values of layer {l}");
            if (nk != nv || (n >= 0 && nk != n)) throw new ArgumentException($"new key/value entries of layer {l} cover {nk}/{nv} positions, expected {Math.Max(n, nk)}");
            n = nk;
        }

        if (Length + n > Capacity)
        {
            throw new InvalidOperationException($"KV cache is full: {Length} + {n} positions exceed its capacity of {Capacity}");
        }

        for (int l = 0; l < Layers; l++)
        {
            newKeys[l].Data.Span.CopyTo(_keys[l].AsSpan(Length * _rowBytes));
            newValues[l].Data.Span.CopyTo(_values[l].AsSpan(Length * _rowBytes));
        }

        Length += n;
    }

    /// <summary>
    /// The key rows a step that adds <paramref name="newPositions"/> positions reads and fills: a view
    /// [length + newPositions, batch, kv_heads, head_dim] of the storage (the filled prefix and room for the new entries).
    /// </summary>
    /// <exception cref="InvalidOperationException">The new positions do not fit in the remaining capacity.</exception>
    public HostTensor KeyRows(int layer, int newPositions) => Rows(_keys, layer, newPositions);

    /// <summary>The value rows a step that adds <paramref name="newPositions"/> positions reads and fills.</summary>
    /// <exception cref="InvalidOperationException">The new positions do not fit in the remaining capacity.</exception>
    public HostTensor ValueRows(int layer, int newPositions) => Rows(_values, layer, newPositions);

    /// <summary>
    /// Takes a step's updated rows of every layer ([length + n, batch, kv_heads, head_dim], as returned for
    /// <see cref="KeyRows"/> and <see cref="ValueRows"/>) and advances <see cref="Length"/> by n. Rows that are the
    /// storage's own memory (written in place) are not copied; others have their last n rows copied in.
    /// </summary>
    /// <exception cref="ArgumentException">A tensor has the wrong dtype or shape, or the layer counts differ.</exception>
    /// <exception cref="InvalidOperationException">The entries do not fit in the remaining capacity.</exception>
    public void CommitRows(IReadOnlyList<HostTensor> keyRows, IReadOnlyList<HostTensor> valueRows, int n)
    {
        ArgumentNullException.ThrowIfNull(keyRows);
        ArgumentNullException.ThrowIfNull(valueRows);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (keyRows.Count != Layers || valueRows.Count != Layers)
        {
            throw new ArgumentException($"KV cache has {Layers} layers but {keyRows.Count} key and {valueRows.Count} value tensors were given");
        }

        if (Length + n > Capacity)
        {
            throw new InvalidOperationException($"KV cache is full: {Length} + {n} positions exceed its capacity of {Capacity}");
        }

        for (int l = 0; l < Layers; l++)
        {
            foreach (var (t, store, what) in new[] { (keyRows[l], _keys[l], "key"), (valueRows[l], _values[l], "value") })
            {
                if (Check(t, $"{what} rows of layer {l}") != Length + n)
                {
                    throw new ArgumentException($"{what} rows of layer {l} cover {t.Shape[0]} positions, expected {Length + n}");
                }

                var rows = store.AsSpan(Length * _rowBytes, n * _rowBytes);
                var src = t.Data.Span.Slice(Length * _rowBytes, n * _rowBytes);
                if (!Unsafe.AreSame(ref MemoryMarshal.GetReference(src), ref MemoryMarshal.GetReference(rows))) src.CopyTo(rows);
            }
        }

        Length += n;
    }

    /// <summary>Forgets every entry (the memory stays allocated).</summary>
    public void Clear() => Length = 0;

    /// <summary>
    /// Copies the filled positions into <paramref name="destination"/> (a cache of the same layers, rows, heads, head
    /// size and dtype with room for them), which then holds exactly these entries.
    /// </summary>
    /// <exception cref="ArgumentException">The destination differs in layout or is too small.</exception>
    public void CopyTo(KvCache destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (destination.Layers != Layers || destination.Batch != Batch || destination.KvHeads != KvHeads || destination.HeadDim != HeadDim || destination.DType != DType)
        {
            throw new ArgumentException($"a cache of {destination.Layers} layers × [{destination.Batch}, {destination.KvHeads}, {destination.HeadDim}] {destination.DType} cannot take the entries of one of {Layers} layers × [{Batch}, {KvHeads}, {HeadDim}] {DType}", nameof(destination));
        }

        if (destination.Capacity < Length)
        {
            throw new ArgumentException($"the destination holds {destination.Capacity} positions, fewer than the {Length} to copy", nameof(destination));
        }

        if (ReferenceEquals(destination, this)) return;
        int bytes = Length * _rowBytes;
        for (int l = 0; l < Layers; l++)
        {
            _keys[l].AsSpan(0, bytes).CopyTo(destination._keys[l]);
            _values[l].AsSpan(0, bytes).CopyTo(destination._values[l]);
        }

        destination.Length = Length;
    }

    /// <summary>Keeps only the first <paramref name="length"/> positions.</summary>
    public void Truncate(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, Length);
        Length = length;
    }

    private HostTensor View(byte[][] store, int layer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, Layers);
        return new HostTensor(DType, [Length, Batch, KvHeads, HeadDim], store[layer].AsMemory(0, Length * _rowBytes));
    }

    private HostTensor Rows(byte[][] store, int layer, int newPositions)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, Layers);
        ArgumentOutOfRangeException.ThrowIfNegative(newPositions);
        int rows = Length + newPositions;
        if (rows > Capacity)
        {
            throw new InvalidOperationException($"KV cache is full: {Length} + {newPositions} positions exceed its capacity of {Capacity}");
        }

        return new HostTensor(DType, [rows, Batch, KvHeads, HeadDim], store[layer].AsMemory(0, rows * _rowBytes));
    }

    private int Check(HostTensor t, string what)
    {
        ArgumentNullException.ThrowIfNull(t, what);
        if (t.DType != DType || t.Rank != 4 || t.Shape[1] != Batch || t.Shape[2] != KvHeads || t.Shape[3] != HeadDim)
        {
            throw new ArgumentException(
                $"{what}: expected {DType.TorchName()}[n, {Batch}, {KvHeads}, {HeadDim}] but got {t.DType.TorchName()}[{string.Join(", ", t.Shape)}]");
        }

        return t.Shape[0];
    }
}
