using Candle.Runtime.Threading;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// The worker pool of the plan step running on this thread. Kernels that split their own work (GEMM, attention)
/// use it, so a plan compiled for <c>n</c> threads runs on its own pool of <c>n</c>. Outside a plan step it is
/// <see cref="WorkerPool.Shared"/>.
/// </summary>
public static class KernelPool
{
    [ThreadStatic]
    private static WorkerPool? t_current;

    /// <summary>The pool for the kernel running on this thread.</summary>
    public static WorkerPool Current => t_current ?? WorkerPool.Shared;

    /// <summary>Makes <paramref name="pool"/> current on this thread; returns the previous one to restore.</summary>
    /// <param name="pool">The pool, or null for <see cref="WorkerPool.Shared"/>.</param>
    /// <returns>The pool that was current before.</returns>
    public static WorkerPool? Enter(WorkerPool? pool)
    {
        var previous = t_current;
        t_current = pool;
        return previous;
    }
}
