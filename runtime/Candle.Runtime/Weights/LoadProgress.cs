namespace Candle.Runtime.Weights;

/// <summary>
/// How far loading has come, reported through <see cref="IProgress{T}"/> by the library's load calls (a checkpoint's
/// tensors, a compiled model's plans): the item just read and the running totals.
/// </summary>
/// <param name="Item">The tensor or file just read.</param>
/// <param name="ItemsDone">Items read so far, <paramref name="Item"/> included.</param>
/// <param name="ItemsTotal">Items the load reads at most (a model may read fewer tensors than its checkpoint holds).</param>
/// <param name="BytesDone">Bytes read so far.</param>
/// <param name="BytesTotal">Bytes of all items.</param>
public readonly record struct LoadProgress(string Item, int ItemsDone, int ItemsTotal, long BytesDone, long BytesTotal);
