using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Candle.Runtime.Plans;

/// <summary>
/// The calling thread's CPU time (Linux <c>CLOCK_THREAD_CPUTIME_ID</c>, nanosecond resolution) in
/// <see cref="Stopwatch"/> ticks: on a loaded machine the time a one-thread step spends on a core, not waiting for
/// one. Elsewhere, or where the clock fails, wall time (<see cref="Stopwatch.GetTimestamp"/>).
/// </summary>
internal static partial class ThreadCpuClock
{
    private const int ClockThreadCpuTime = 3;

    /// <summary>The thread's CPU time in <see cref="Stopwatch"/> ticks (wall time where the clock is unavailable).</summary>
    public static long Timestamp()
    {
        if (OperatingSystem.IsLinux() && ClockGetTime(ClockThreadCpuTime, out var ts) == 0)
        {
            return (long)(((ts.Seconds * 1e9) + ts.Nanoseconds) * (Stopwatch.Frequency / 1e9));
        }

        return Stopwatch.GetTimestamp();
    }

    /// <summary>The thread's CPU time in milliseconds (wall time where the clock is unavailable).</summary>
    public static double NowMs() => Timestamp() * 1e3 / Stopwatch.Frequency;

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec ts);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
