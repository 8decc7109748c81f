using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;

namespace Candle.Compiler.Gpu;

/// <summary>
/// Opt-in timing of GPU plans (<c>CANDLE_GPU_TIMING=1</c>): every call is followed by a device synchronization and
/// its wall time (host launch work plus the kernel) is added to its kind, so one run on the device says where a
/// step's time goes. Off by default; when on, the plans run serialized and slower.
/// </summary>
public static class GpuTiming
{
    private static readonly ConcurrentDictionary<string, (long Host, long Ticks, long Calls)> s_kinds = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, (long Host, long Ticks, long Calls)> s_calls = new(StringComparer.Ordinal);

    /// <summary>Whether calls are timed (<c>CANDLE_GPU_TIMING</c> set to a non-empty value).</summary>
    public static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("CANDLE_GPU_TIMING") is { Length: > 0 };

    /// <summary>
    /// How many of the largest single calls <see cref="Report"/> lists after the kinds, each by its kind, label and
    /// evaluated shapes (<c>CANDLE_GPU_TIMING_CALLS=N</c>; 0, the default, lists none).
    /// </summary>
    public static int ListedCalls { get; set; } =
        int.TryParse(Environment.GetEnvironmentVariable("CANDLE_GPU_TIMING_CALLS"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : 0;

    /// <summary>Forgets the times gathered so far.</summary>
    public static void Reset()
    {
        s_kinds.Clear();
        s_calls.Clear();
    }

    /// <summary>
    /// The table of the times gathered since the last <see cref="Reset"/>: per call kind its total milliseconds, share,
    /// calls, microseconds per call (synchronized) and the host's share of it (queuing the launch), largest first; <paramref name="runs"/> divides the totals into per-run figures.
    /// </summary>
    public static string Report(int runs = 1)
    {
        var rows = s_kinds.ToArray().OrderByDescending(kv => kv.Value.Ticks).ToArray();
        double total = rows.Sum(r => (double)r.Value.Ticks);
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine(inv, $"| call kind | ms/run | share | calls/run | us/call | host us/call |");
        sb.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (kind, v) in rows)
        {
            double ms = v.Ticks * 1000.0 / Stopwatch.Frequency;
            double hostUs = v.Host * 1e6 / Stopwatch.Frequency / Math.Max(v.Calls, 1);
            sb.AppendLine(inv, $"| {kind} | {ms / runs:F3} | {100 * v.Ticks / Math.Max(total, 1):F1}% | {(double)v.Calls / runs:F0} | {ms * 1000 / Math.Max(v.Calls, 1):F1} | {hostUs:F1} |");
        }

        double hostMs = rows.Sum(r => (double)r.Value.Host) * 1000.0 / Stopwatch.Frequency / runs;
        sb.AppendLine(inv, $"| total | {total * 1000.0 / Stopwatch.Frequency / runs:F3} | | {rows.Sum(r => r.Value.Calls) / (double)runs:F0} | | {hostMs:F3} ms/run |");
        if (ListedCalls == 0 || s_calls.IsEmpty) return sb.ToString();
        sb.AppendLine();
        sb.AppendLine(inv, $"| largest calls (by label and shapes) | ms/run | calls/run | us/call |");
        sb.AppendLine("| --- | ---: | ---: | ---: |");
        foreach (var (call, v) in s_calls.ToArray().OrderByDescending(kv => kv.Value.Ticks).Take(ListedCalls))
        {
            double ms = v.Ticks * 1000.0 / Stopwatch.Frequency;
            sb.AppendLine(inv, $"| {call} | {ms / runs:F3} | {(double)v.Calls / runs:F0} | {ms * 1000 / Math.Max(v.Calls, 1):F1} |");
        }

        return sb.ToString();
    }

    /// <summary>Adds one call's time by kind and, where <see cref="ListedCalls"/> is on, by its description.</summary>
    internal static void Add(KernelCall call, Func<Dim, long> eval, long host, long ticks)
    {
        Add(KindOf(call), host, ticks);
        if (ListedCalls > 0) s_calls.AddOrUpdate(Describe(call, eval), (host, ticks, 1), (_, v) => (v.Host + host, v.Ticks + ticks, v.Calls + 1));
    }

    /// <summary>A call's kind, label and the evaluated shapes that tell its work: a copy's shape and both views' strides, a product's sizes.</summary>
    internal static string Describe(KernelCall call, Func<Dim, long> eval)
    {
        string Dims(IEnumerable<Dim> dims) => string.Join(",", dims.Select(d => eval(d).ToString(CultureInfo.InvariantCulture)));
        string detail = call switch
        {
            CopyCall c => $"[{Dims(c.Src.Shape)}] {c.Src.DType.TorchName()}, src strides ({Dims(c.Src.Strides)}) offset {eval(c.Src.Offset)}, dst strides ({Dims(c.Dst.Strides)}) offset {eval(c.Dst.Offset)}",
            BatchedMatMulCall b => $"{eval(b.M)}x{eval(b.N)}x{eval(b.K)} batch [{Dims(b.BatchShape)}], A strides ({Dims(b.A.Strides)}), B strides ({Dims(b.B.Strides)})",
            GemmCall g => $"{eval(g.Rows)}x{eval(g.N)}x{eval(g.K)}, A row stride {eval(g.ARowStride)}, B strides ({Dims(g.B.Strides)})",
            AttentionCall a => $"q [{Dims(a.Q.Shape)}] k [{Dims(a.K.Shape)}]{(a.Causal ? " causal" : "")}{(a.Mask is null ? "" : " masked")}",
            _ => "",
        };
        return $"{KindOf(call)}: {call.Label} {detail}".TrimEnd();
    }

    internal static void Add(string kind, long host, long ticks) =>
        s_kinds.AddOrUpdate(kind, (host, ticks, 1), (_, v) => (v.Host + host, v.Ticks + ticks, v.Calls + 1));

    /// <summary>A call's kind for the report: its call type, a matrix product with its dtypes.</summary>
    internal static string KindOf(KernelCall call) => call switch
    {
        GemmCall g => $"Gemm {g.A.DType.TorchName()}x{(g.B.StoredDType ?? g.B.DType).TorchName()}{(g.Epilogue is null ? "" : "+epilogue")}",
        BatchedMatMulCall b => $"BatchedMatMul {b.DType.TorchName()}",
        ElementwiseCall => "Elementwise",
        _ => call.GetType().Name.Replace("Call", "", StringComparison.Ordinal),
    };
}
