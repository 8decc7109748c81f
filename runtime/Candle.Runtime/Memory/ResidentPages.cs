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
