using System.Collections.Concurrent;

namespace Candle.Runtime.Plans;

/// <summary>Pinned, 64-byte aligned arena blocks reused across calls; each concurrent call rents its own.</summary>
internal sealed class ArenaPool
{
    private readonly ConcurrentBag<byte[]> _free = [];

    public byte[] Rent(long bytes)
    {
        long need = bytes + MemoryPlanner.Alignment;
        for (int tries = 0; tries < 4 && _free.TryTake(out var block); tries++)
        {
            if (block.LongLength >= need) return block;
        }

        return GC.AllocateUninitializedArray<byte>(checked((int)Math.Max(need, 4096)), pinned: true);
    }

    public void Return(byte[] block) => _free.Add(block);

    public static unsafe nint AlignedBase(byte[] block)
    {
        fixed (byte* p = block)
        {
            long a = ((long)p + MemoryPlanner.Alignment - 1) & ~(long)(MemoryPlanner.Alignment - 1);
            return (nint)a;
        }
    }
}
