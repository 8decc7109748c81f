using System.Runtime.InteropServices;

namespace Candle.Runtime.Memory;

/// <summary>
/// Gives the pages of a read-only file mapping back to the operating system once the process no longer reads them
/// (after a weight was packed into another layout, say). The mapping stays valid: a later read faults the pages in
/// again from the file, so dropping them can never change a value, only where it is read from. Advisory: where the
/// platform offers no such call, or it fails, nothing happens.
/// </summary>
internal static unsafe partial class ResidentPages
{
    private const int MadvDontNeed = 4;

    /// <summary>How many bytes have been given back since the process started (a diagnostic for tests).</summary>
    public static long BytesDropped => Interlocked.Read(ref _dropped);

    private static long _dropped;

    // The read-only file mappings alive now, as [start, end) address pairs; replaced whole under the lock, read without it.
    private static (nint Start, nint End)[] _mappings = [];
    private static readonly Lock MappingsLock = new();

    /// <summary>
    /// The span of virtual memory the kernel maps at once on a read fault of a file page ("fault-around", 64 KiB by
    /// default): reading one row of a mapped table makes this whole aligned block resident.
    /// </summary>
    internal const long FaultAroundBytes = 64 * 1024;

    /// <summary>Records [<paramref name="start"/>, <paramref name="start"/> + <paramref name="length"/>) as a read-only file mapping (see <see cref="DropAfterLookup"/>).</summary>
    public static void RegisterMapping(byte* start, long length)
    {
        lock (MappingsLock) _mappings = [.. _mappings, ((nint)start, (nint)(start + length))];
    }

    /// <summary>Forgets the mapping starting at <paramref name="start"/>; called before it is unmapped.</summary>
    public static void UnregisterMapping(byte* start)
    {
        lock (MappingsLock) _mappings = [.. _mappings.Where(m => m.Start != (nint)start)];
    }

    /// <summary>
    /// After a row of a table was looked up (an embedding), drops the fault-around blocks holding it when the table is a
    /// registered read-only file mapping, so that a lookup leaves no page resident; memory of any other kind (an
    /// anonymous copy, whose pages dropping would zero) is left alone.
    /// </summary>
    /// <param name="start">First byte of the row read.</param>
    /// <param name="length">Bytes of the row.</param>
    public static void DropAfterLookup(byte* start, long length)
    {
        nint p = (nint)start;
        foreach (var (s, e) in _mappings)
        {
            if (p < s || p + (nint)length > e) continue;
            long first = Math.Max((long)s, (long)p / FaultAroundBytes * FaultAroundBytes);
            long end = Math.Min((long)e, (((long)p + length + FaultAroundBytes - 1) / FaultAroundBytes) * FaultAroundBytes);
            Drop((byte*)first, end - first);
            return;
        }
    }

    /// <summary>Drops the whole pages inside [<paramref name="start"/>, <paramref name="start"/> + <paramref name="length"/>) of a read-only file mapping.</summary>
    /// <param name="start">First byte of the range.</param>
    /// <param name="length">Bytes in the range.</param>
    public static void Drop(byte* start, long length)
    {
        if (!OperatingSystem.IsLinux() || length <= 0) return;
        long page = Environment.SystemPageSize;
        long first = ((long)start + page - 1) / page * page;
        long end = ((long)start + length) / page * page;
        if (end <= first) return;
        try
        {
            if (Madvise((nint)first, (nuint)(end - first), MadvDontNeed) == 0) Interlocked.Add(ref _dropped, end - first);
        }
        catch (DllNotFoundException)
        {
        }
        catch (EntryPointNotFoundException)
        {
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);
}
