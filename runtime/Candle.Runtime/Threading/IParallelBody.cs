namespace Candle.Runtime.Threading;

/// <summary>
/// The work of one <see cref="WorkerPool.ParallelFor{TBody}(int, ref TBody)"/> call, as a struct so the
/// JIT specializes and inlines it and no delegate is allocated.
/// </summary>
/// <remarks>
/// <see cref="Invoke"/> is called concurrently from several threads on one shared instance, each call
/// with a disjoint index range; implementations must only read their fields or write disjoint memory.
/// </remarks>
public interface IParallelBody
{
    /// <summary>Processes the indices <paramref name="start"/> (inclusive) to <paramref name="end"/> (exclusive).</summary>
    void Invoke(int start, int end);
}
