using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Candle.Runtime.Threading;

/// <summary>
/// A low-overhead pool of persistent worker threads for data-parallel kernels.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="ParallelFor{TBody}(int, ref TBody)"/> splits an index range statically into at most
/// <see cref="Threads"/> contiguous chunks; the calling thread runs chunks too, so a pool of
/// <c>n</c> threads owns <c>n - 1</c> background workers. Idle workers spin briefly, then block.
/// A call allocates nothing.
/// </para>
/// <para>
/// Runs inline on the calling thread when the range is small, when the pool has one thread, when the
/// call is nested inside a chunk of this pool, or when another thread is using the pool at that moment
/// (so any number of threads may call concurrently; each call still completes correctly).
/// </para>
/// </remarks>
public sealed class WorkerPool : IDisposable
{
    private static readonly Lazy<WorkerPool> SharedPool = new(() => new WorkerPool(Environment.ProcessorCount));

    [ThreadStatic]
    private static WorkerPool? t_workerOf;

    private readonly Thread[] _workers;
    private readonly object _gate = new();
    private readonly long _spinTicks;

    // High 32 bits: job generation; low 32 bits: the next chunk to claim.
    private long _state;
    private int _busy;
    private int _remaining;
    private int _sleepers;
    private volatile bool _disposed;

    private JobBase? _job;
    private int _count;
    private int _chunks;
    private Exception? _error;

    /// <summary>Creates a pool whose parallel loops use <paramref name="threads"/> threads, the caller included.</summary>
    /// <param name="threads">Number of threads, at least 1; <c>threads - 1</c> background workers are started.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is less than 1.</exception>
    public WorkerPool(int threads)
    {
        if (threads < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "WorkerPool needs at least one thread");
        }

        Threads = threads;
        _spinTicks = Math.Max(1, Stopwatch.Frequency / 20_000); // about 50 microseconds
        _workers = new Thread[threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            var t = new Thread(WorkerLoop, 256 * 1024)
            {
                IsBackground = true,
                Name = $"Candle worker {i + 1}/{threads - 1}",
            };
            _workers[i] = t;
            t.Start();
        }
    }

    /// <summary>The process-wide pool, with one thread per logical processor.</summary>
    public static WorkerPool Shared => SharedPool.Value;

    /// <summary>Number of threads a parallel loop uses, the calling thread included.</summary>
    public int Threads { get; }

    /// <summary>Creates a pool with the given number of threads (see the constructor).</summary>
    /// <param name="threads">Number of threads, at least 1.</param>
    /// <returns>A new pool; dispose it to stop its workers.</returns>
    public static WorkerPool Create(int threads) => new(threads);

    /// <summary>
    /// Runs <paramref name="body"/> over the indices <c>[0, count)</c>, split into at most
    /// <see cref="Threads"/> contiguous chunks that run in parallel, and returns when all are done.
    /// </summary>
    /// <typeparam name="TBody">The loop body, a struct so the call is specialized and allocation-free.</typeparam>
    /// <param name="count">Number of indices; nothing runs when it is 0.</param>
    /// <param name="body">The body; all threads share this instance (see <see cref="IParallelBody"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    /// <remarks>If a chunk throws, the other chunks still finish and the first exception is rethrown here.</remarks>
    public void ParallelFor<TBody>(int count, ref TBody body)
        where TBody : struct, IParallelBody
    {
        ParallelFor(count, 1, ref body);
    }

    /// <summary>
    /// Like <see cref="ParallelFor{TBody}(int, ref TBody)"/>, but uses no more chunks than
    /// <c>count / minPerChunk</c>, so each chunk has at least <paramref name="minPerChunk"/> indices
    /// (the whole range runs inline when <c>count &lt; 2 * minPerChunk</c>).
    /// </summary>
    /// <typeparam name="TBody">The loop body.</typeparam>
    /// <param name="count">Number of indices.</param>
    /// <param name="minPerChunk">Least number of indices worth handing to another thread, at least 1.</param>
    /// <param name="body">The body; all threads share this instance.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative or <paramref name="minPerChunk"/> is less than 1.</exception>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    public void ParallelFor<TBody>(int count, int minPerChunk, ref TBody body)
        where TBody : struct, IParallelBody
    {
        if (count < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "ParallelFor count must not be negative");
        }

        if (minPerChunk < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(minPerChunk), minPerChunk, "ParallelFor minPerChunk must be at least 1");
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count == 0)
        {
            return;
        }

        Dispatch(count, Math.Min(Threads, count / minPerChunk), ref body);
    }

    /// <summary>
    /// Runs <paramref name="body"/> over <c>[0, count)</c> with every index a chunk of its own
    /// (<c>Invoke(i, i + 1)</c>), claimed by whichever thread is free: load balancing for uneven work items
    /// or when other processes compete for the cores. Runs inline, as one <c>Invoke(0, count)</c>, in the
    /// same cases as <see cref="ParallelFor{TBody}(int, ref TBody)"/>.
    /// </summary>
    /// <typeparam name="TBody">The loop body.</typeparam>
    /// <param name="count">Number of work items.</param>
    /// <param name="body">The body; all threads share this instance.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    public void ParallelForDynamic<TBody>(int count, ref TBody body)
        where TBody : struct, IParallelBody
    {
        if (count < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "ParallelForDynamic count must not be negative");
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count == 0)
        {
            return;
        }

        Dispatch(count, Threads == 1 ? 1 : count, ref body);
    }

    /// <summary>
    /// Runs <paramref name="body"/> over the indices <c>[0, count)</c> in parallel chunks
    /// (<c>body(start, end)</c>); see <see cref="ParallelFor{TBody}(int, ref TBody)"/>.
    /// </summary>
    /// <param name="count">Number of indices.</param>
    /// <param name="body">Called once per chunk with its start (inclusive) and end (exclusive).</param>
    /// <exception cref="ArgumentNullException"><paramref name="body"/> is null.</exception>
    public void ParallelFor(int count, Action<int, int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var wrapper = new ActionBody(body);
        ParallelFor(count, 1, ref wrapper);
    }

    /// <summary>Stops the background workers. Loops started afterwards throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        lock (_gate)
        {
            Monitor.PulseAll(_gate);
        }
    }

    private void Dispatch<TBody>(int count, int chunks, ref TBody body)
        where TBody : struct, IParallelBody
    {
        if (chunks <= 1 || t_workerOf == this || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            body.Invoke(0, count);
            return;
        }

        var job = Job<TBody>.Rent();
        job.Body = body;
        WorkerPool? outer = t_workerOf;
        t_workerOf = this;
        Exception? error;
        try
        {
            Run(job, count, chunks);
            error = _error;
            _error = null;
        }
        finally
        {
            t_workerOf = outer;
            body = job.Body;
            job.Body = default;
            Job<TBody>.Return(job);
            Volatile.Write(ref _busy, 0);
        }

        if (error is not null)
        {
            ExceptionDispatchInfo.Capture(error).Throw();
        }
    }

    private void Run(JobBase job, int count, int chunks)
    {
        // Close the previous generation before touching the job fields: a worker that read the old state can then
        // no longer claim a chunk of it against this job's fields (its compare-exchange fails).
        long generation = (Volatile.Read(ref _state) >> 32) + 1;
        Interlocked.Exchange(ref _state, (generation << 32) | int.MaxValue);

        _job = job;
        _count = count;
        _chunks = chunks;
        _error = null;
        Volatile.Write(ref _remaining, chunks);

        generation++;
        Interlocked.Exchange(ref _state, generation << 32);
        if (Volatile.Read(ref _sleepers) > 0)
        {
            lock (_gate)
            {
                Monitor.PulseAll(_gate);
            }
        }

        RunChunks(generation);

        var spin = default(SpinWait);
        while (Volatile.Read(ref _remaining) != 0)
        {
            spin.SpinOnce(sleep1Threshold: -1);
        }

        _job = null;
    }

    // Claims and runs chunks of the given generation until none is left.
    private void RunChunks(long generation)
    {
        while (true)
        {
            long s = Volatile.Read(ref _state);
            if (s >> 32 != generation)
            {
                return;
            }

            int chunk = (int)s;
            int chunks = Volatile.Read(ref _chunks);
            if (chunk >= chunks)
            {
                return;
            }

            if (Interlocked.CompareExchange(ref _state, s + 1, s) != s)
            {
                continue;
            }

            // The chunk is claimed: the job cannot finish (and its fields cannot change) until it is done.
            int count = _count;
            int start = (int)((long)count * chunk / chunks);
            int end = (int)((long)count * (chunk + 1) / chunks);
            try
            {
                _job!.Invoke(start, end);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, e, null);
            }
            finally
            {
                Interlocked.Decrement(ref _remaining);
            }
        }
    }

    private void WorkerLoop()
    {
        t_workerOf = this;
        long seen = 0;
        while (!_disposed)
        {
            long generation = Volatile.Read(ref _state) >> 32;
            if (generation == seen)
            {
                long until = Stopwatch.GetTimestamp() + _spinTicks;
                int spins = 0;
                while ((generation = Volatile.Read(ref _state) >> 32) == seen)
                {
                    if (++spins % 64 == 0 && Stopwatch.GetTimestamp() > until)
                    {
                        break;
                    }

                    Thread.SpinWait(8);
                }
            }

            if (generation == seen)
            {
                lock (_gate)
                {
                    Interlocked.Increment(ref _sleepers);
                    while ((generation = Volatile.Read(ref _state) >> 32) == seen && !_disposed)
                    {
                        Monitor.Wait(_gate);
                    }

                    Interlocked.Decrement(ref _sleepers);
                }
            }

            seen = generation;
            RunChunks(generation);
        }
    }

    private abstract class JobBase
    {
        public abstract void Invoke(int start, int end);
    }

    private sealed class Job<TBody> : JobBase
        where TBody : struct, IParallelBody
    {
        [ThreadStatic]
        private static Job<TBody>? t_cached;

        public TBody Body;

        public static Job<TBody> Rent()
        {
            var job = t_cached;
            if (job is null)
            {
                return new Job<TBody>();
            }

            t_cached = null;
            return job;
        }

        public static void Return(Job<TBody> job) => t_cached = job;

        public override void Invoke(int start, int end) => Body.Invoke(start, end);
    }

    private readonly struct ActionBody(Action<int, int> action) : IParallelBody
    {
        public void Invoke(int start, int end) => action(start, end);
    }
}
