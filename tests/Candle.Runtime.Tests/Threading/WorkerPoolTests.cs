using Candle.Runtime.Threading;

namespace Candle.Runtime.Tests.Threading;

public class WorkerPoolTests
{
    private struct CountBody : IParallelBody
    {
        public int[] Hits;

        public void Invoke(int start, int end)
        {
            for (int i = start; i < end; i++)
            {
                Interlocked.Increment(ref Hits[i]);
            }
        }
    }

    private struct NestedBody : IParallelBody
    {
        public WorkerPool Pool;
        public int[] Hits;
        public int Inner;

        public void Invoke(int start, int end)
        {
            for (int i = start; i < end; i++)
            {
                var inner = new CountBody { Hits = new int[Inner] };
                Pool.ParallelFor(Inner, ref inner);
                if (inner.Hits.All(h => h == 1))
                {
                    Interlocked.Increment(ref Hits[i]);
                }
            }
        }
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(1, 5)]
    [InlineData(2, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 7)]
    [InlineData(4, 1000)]
    public void CoversEveryIndexOnce(int threads, int count)
    {
        using var pool = WorkerPool.Create(threads);
        Assert.Equal(threads, pool.Threads);
        for (int rep = 0; rep < 50; rep++)
        {
            var body = new CountBody { Hits = new int[count] };
            pool.ParallelFor(count, ref body);
            Assert.All(body.Hits, h => Assert.Equal(1, h));
        }
    }

    [Theory]
    [InlineData(1, 5)]
    [InlineData(2, 1)]
    [InlineData(2, 37)]
    [InlineData(3, 200)]
    public void DynamicLoopCoversEveryIndexOnceInSingleIndexChunks(int threads, int count)
    {
        using var pool = WorkerPool.Create(threads);
        for (int rep = 0; rep < 50; rep++)
        {
            var body = new CountBody { Hits = new int[count] };
            pool.ParallelForDynamic(count, ref body);
            Assert.All(body.Hits, h => Assert.Equal(1, h));
        }

        if (threads > 1 && count > 1)
        {
            var sizes = new System.Collections.Concurrent.ConcurrentBag<int>();
            var wrapper = new RangeRecorder { Sizes = sizes };
            pool.ParallelForDynamic(count, ref wrapper);
            Assert.All(sizes, s => Assert.Equal(1, s));
            Assert.Equal(count, sizes.Count);
        }

        Assert.Throws<ArgumentOutOfRangeException>(() =>
        {
            var b = new CountBody { Hits = [] };
            pool.ParallelForDynamic(-1, ref b);
        });
    }

    private struct RangeRecorder : IParallelBody
    {
        public System.Collections.Concurrent.ConcurrentBag<int> Sizes;

        public void Invoke(int start, int end) => Sizes.Add(end - start);
    }

    [Fact]
    public void ChunksAreContiguousAndAtMostThreads()
    {
        using var pool = WorkerPool.Create(3);
        var ranges = new System.Collections.Concurrent.ConcurrentBag<(int, int)>();
        pool.ParallelFor(100, (s, e) => ranges.Add((s, e)));
        var sorted = ranges.OrderBy(r => r.Item1).ToArray();
        Assert.InRange(sorted.Length, 1, 3);
        Assert.Equal(0, sorted[0].Item1);
        Assert.Equal(100, sorted[^1].Item2);
        for (int i = 1; i < sorted.Length; i++)
        {
            Assert.Equal(sorted[i - 1].Item2, sorted[i].Item1);
        }
    }

    [Fact]
    public void MinPerChunkLimitsSplitting()
    {
        using var pool = WorkerPool.Create(4);
        int calls = 0;
        pool.ParallelFor(10, (s, e) => Interlocked.Increment(ref calls));
        Assert.InRange(calls, 1, 4);
        var body = new CountBody { Hits = new int[10] };
        pool.ParallelFor(10, 6, ref body);
        Assert.All(body.Hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void SixteenConcurrentCallersEachCoverTheirRangeOnce()
    {
        using var pool = WorkerPool.Create(4);
        const int callers = 16;
        var failures = new int[callers];
        var threads = new Thread[callers];
        using var start = new ManualResetEventSlim();
        for (int t = 0; t < callers; t++)
        {
            int id = t;
            threads[t] = new Thread(() =>
            {
                start.Wait();
                for (int rep = 0; rep < 200; rep++)
                {
                    int count = 1 + ((id * 31 + rep * 7) % 97);
                    var body = new CountBody { Hits = new int[count] };
                    pool.ParallelFor(count, ref body);
                    if (body.Hits.Any(h => h != 1))
                    {
                        failures[id]++;
                    }
                }
            });
            threads[t].Start();
        }

        start.Set();
        foreach (var t in threads)
        {
            t.Join();
        }

        Assert.All(failures, f => Assert.Equal(0, f));
    }

    [Fact]
    public void NestedCallsRunAndCoverEveryIndex()
    {
        using var pool = WorkerPool.Create(3);
        var body = new NestedBody { Pool = pool, Hits = new int[9], Inner = 13 };
        pool.ParallelFor(9, ref body);
        Assert.All(body.Hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void ExceptionInABodyPropagatesAndPoolStaysUsable()
    {
        using var pool = WorkerPool.Create(2);
        for (int rep = 0; rep < 20; rep++)
        {
            int failAt = rep % 2 == 0 ? 0 : 99;
            var ex = Assert.Throws<InvalidOperationException>(() =>
                pool.ParallelFor(100, (s, e) =>
                {
                    if (failAt >= s && failAt < e)
                    {
                        throw new InvalidOperationException("boom " + failAt);
                    }
                }));
            Assert.Equal("boom " + failAt, ex.Message);
        }

        var body = new CountBody { Hits = new int[64] };
        pool.ParallelFor(64, ref body);
        Assert.All(body.Hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void BadArgumentsAndDisposedPoolThrow()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => WorkerPool.Create(0));
        var pool = WorkerPool.Create(2);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.ParallelFor(-1, (s, e) => { }));
        Assert.Throws<ArgumentNullException>(() => pool.ParallelFor(1, null!));
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.ParallelFor(4, (s, e) => { }));
    }

    [Fact]
    public void SharedPoolUsesEveryProcessor()
    {
        Assert.Equal(Environment.ProcessorCount, WorkerPool.Shared.Threads);
        Assert.Same(WorkerPool.Shared, WorkerPool.Shared);
    }
}
