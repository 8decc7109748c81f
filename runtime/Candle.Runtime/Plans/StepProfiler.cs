using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Candle.Runtime.Kernels.Cpu.Args;

namespace Candle.Runtime.Plans;

/// <summary>
/// Time spent per plan step, by kernel and label, when the environment variable <c>CANDLE_PROFILE</c> is set when the
/// process starts (<c>1</c>: the table goes to standard error at exit; a path: it is written there). Off, it costs
/// one static check per step. With <c>CANDLE_PROFILE_CLOCK=thread</c> each step is timed by the calling thread's CPU
/// time (<see cref="ThreadCpuClock"/>) instead of wall time: on a loaded machine the figure to read for a one-thread
/// plan (on more threads it leaves out the workers' share).
/// </summary>
internal static class StepProfiler
{
    private static readonly ConcurrentDictionary<(string Kernel, string Label), (long Ticks, long Calls, long Work)> s_times = new();

    /// <summary>Whether steps are timed.</summary>
    public static readonly bool Enabled = Environment.GetEnvironmentVariable("CANDLE_PROFILE") is { Length: > 0 } && Start();

    private static readonly bool s_threadClock = Environment.GetEnvironmentVariable("CANDLE_PROFILE_CLOCK") == "thread";

    /// <summary>The clock steps are timed by, in <see cref="Stopwatch"/> ticks: wall time, or the thread's CPU time.</summary>
    public static long Timestamp() => s_threadClock ? ThreadCpuClock.Timestamp() : Stopwatch.GetTimestamp();

    /// <summary>
    /// Adds one step's time; a matrix product's row names its shape (<c>[M, K]·[K, N]</c>, ᵀ for an operand read
    /// transposed), a float32 convolution's its geometry (<c>N×Cin×H×W ⊛ Cout×KH×KW /stride</c>).
    /// </summary>
    public static void Add(PlanStep step, long[] args, long ticks, long work) =>
        Add(step.Kernel, LabelOf(step, args), ticks, work);

    private static string LabelOf(PlanStep step, long[] args) =>
        step.Kernel.StartsWith(GemmArgs.Kernel, StringComparison.Ordinal) ? GemmLabel(step.Label, args)
        : step.Kernel is ConvArgs.GemmKernel or ConvMaxPoolArgs.Kernel ? ConvLabel(step.Label, args)
        : step.Label;

    private static string ConvLabel(string label, long[] args)
    {
        var c = ConvArgs.Read(args);
        string Join(ReadOnlyMemory<long> v) => string.Join("×", v.ToArray());
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{label} {c.Batch}×{c.InChannels}×{Join(c.InSpatial)} ⊛ {c.OutChannels}×{Join(c.Kernel)} /{Join(c.Stride)}");
    }

    private static string GemmLabel(string label, long[] args)
    {
        var g = GemmArgs.Read(args);
        string at = g.ARowStride == 1 && g.M > 1 ? "ᵀ" : "";
        string bt = g.BRowStride == 1 && g.N > 1 ? "ᵀ" : "";
        return string.Create(CultureInfo.InvariantCulture, $"{label} [{g.M}, {g.K}]{at}·[{g.K}, {g.N}]{bt}");
    }

    /// <summary>Adds the time of one kernel call (any executor's).</summary>
    public static void Add(string kernel, string label, long ticks, long work) =>
        s_times.AddOrUpdate((kernel, label), (ticks, 1, work), (_, v) => (v.Ticks + ticks, v.Calls + 1, v.Work + work));

    /// <summary>The table: total milliseconds, share, calls and work items per kernel and label, largest first.</summary>
    public static string Report()
    {
        var rows = s_times.ToArray().OrderByDescending(kv => kv.Value.Ticks).ToArray();
        double total = rows.Sum(r => (double)r.Value.Ticks);
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{"ms",10} {"share",6} {"calls",7} {"work",12}  kernel  label");
        foreach (var (key, v) in rows)
        {
            double ms = v.Ticks * 1000.0 / Stopwatch.Frequency;
            sb.AppendLine(CultureInfo.InvariantCulture, $"{ms,10:F1} {100 * v.Ticks / Math.Max(total, 1),5:F1}% {v.Calls,7} {v.Work,12}  {key.Kernel}  {key.Label}");
        }

        return sb.ToString();
    }

    private static bool Start()
    {
        string target = Environment.GetEnvironmentVariable("CANDLE_PROFILE")!;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            if (s_times.IsEmpty) return;
            if (target == "1") Console.Error.Write(Report());
            else File.WriteAllText(target, Report());
        };
        return true;
    }
}
