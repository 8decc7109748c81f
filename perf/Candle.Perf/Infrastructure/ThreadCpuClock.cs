using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Candle.Perf.Infrastructure;

/// <summary>
/// The calling thread's CPU time (Linux <c>CLOCK_THREAD_CPUTIME_ID</c>, nanosecond resolution): on a loaded machine
/// the time a one-thread run spends on a core, not waiting for one. Elsewhere it falls back to wall time.
/// </summary>
internal static partial class ThreadCpuClock
{
    private const int ClockThreadCpuTime = 3;

    /// <summary>The thread's CPU time in milliseconds (wall time where the clock is unavailable).</summary>
    public static double NowMs()
    {
        if (OperatingSystem.IsLinux() && ClockGetTime(ClockThreadCpuTime, out var ts) == 0)
        {
            return (ts.Seconds * 1e3) + (ts.Nanoseconds / 1e6);
        }

        return Stopwatch.GetTimestamp() * 1e3 / Stopwatch.Frequency;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec ts);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
