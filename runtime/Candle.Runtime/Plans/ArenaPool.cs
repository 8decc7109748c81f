using System.Collections.Concurrent;

namespace Candle.Runtime.Plans;

/// <summary>
/// Pinned, 64-byte aligned arena blocks reused across calls; each concurrent call rents its own. Blocks are arrays of
/// 8-byte elements so that an arena may exceed the 2 GiB a byte array can hold (a training step's activations do).
/// </summary>
internal sealed class ArenaPool
{
    private readonly ConcurrentBag<long[]> _free = [];

    public long[] Rent(long bytes)
    {
        long need = bytes + MemoryPlanner.Alignment;
        for (int tries = 0; tries < 4 && _free.TryTake(out var block); tries++)
        {
            if (block.LongLength * sizeof(long) >= need) return block;
        }

        long words = (Math.Max(need, 4096) + sizeof(long) - 1) / sizeof(long);
        if (words > Array.MaxLength) throw new OutOfMemoryException($"plan arena of {bytes} bytes exceeds the largest array ({(long)Array.MaxLength * sizeof(long)} bytes)");
        return GC.AllocateUninitializedArray<long>((int)words, pinned: true);
    }

    public void Return(long[] block) => _free.Add(block);

    public static unsafe nint AlignedBase(long[] block)
    {
        fixed (long* p = block)
        {
            long a = ((long)p + MemoryPlanner.Alignment - 1) & ~(long)(MemoryPlanner.Alignment - 1);
            return (nint)a;
        }
    }
}
