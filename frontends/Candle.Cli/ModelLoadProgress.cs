using System.Diagnostics;
using System.Globalization;
using Candle.Compiler.Backends;
using Candle.Runtime.Weights;
using Spectre.Console;

namespace Candle.Cli;

/// <summary>
/// Loading and compiling a model in the CLI: with progress on (standard error is a terminal), a Spectre.Console
/// progress display on standard error — weights read with bytes and rate, compilation with passes and kernels — and a
/// one-line summary after it ("loaded 201 tensors, 2.2 GB, in 1.9 s; compiled 88 kernels in 0.7 s"). With progress off
/// nothing is written, so redirected output carries no escape codes and standard output stays the command's.
/// </summary>
internal static class ModelLoadProgress
{
    /// <summary>Runs <paramref name="body"/> with the progress receivers for its load and compile calls.</summary>
    public static T Run<T>(CliContext ctx, Func<IProgress<LoadProgress>?, IProgress<CompileProgress>?, T> body)
    {
        if (!ctx.Progress) return body(null, null);
        var clock = Stopwatch.StartNew();
        LoadProgress last = default;
        TimeSpan loaded = TimeSpan.Zero;
        int kernels = 0, passes = 0;
        T result = default!;
        CliProgress.Display(ctx).Start(display =>
            {
                var load = display.AddTask("loading weights", maxValue: 1);
                var compile = display.AddTask("compiling", autoStart: false, maxValue: 1);
                var onLoad = new Receiver<LoadProgress>(p =>
                {
                    last = p;
                    loaded = clock.Elapsed;
                    double seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-3);
                    load.MaxValue = Math.Max(p.BytesTotal, 1);
                    load.Value = p.BytesDone;
                    load.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                        $"loading weights {Size(p.BytesDone)} of {Size(p.BytesTotal)} at {Size((long)(p.BytesDone / seconds))}/s ({p.ItemsDone} tensors)"));
                });
                var onCompile = new Receiver<CompileProgress>(p =>
                {
                    if (!compile.IsStarted)
                    {
                        compile.StartTask();
                        compile.IsIndeterminate = true; // the passes and kernels are not known before they run
                        if (last.ItemsDone == 0) loaded = clock.Elapsed;
                    }

                    if (!load.IsFinished) load.Value = load.MaxValue;
                    if (p.Phase == CompilePhase.Pass) passes++;
                    if (p.Phase == CompilePhase.Done) kernels += p.KernelCalls;
                    compile.Description = Markup.Escape(p.Phase switch
                    {
                        CompilePhase.Pass => $"compiling: pass {p.Name} ({passes} passes, {p.Nodes} nodes)",
                        CompilePhase.Lowering => $"compiling: lowering for {p.Name} ({passes} passes)",
                        _ => $"compiling: {kernels} kernel calls",
                    });
                });
                result = body(onLoad, onCompile);
                load.Value = load.MaxValue;
                compile.IsIndeterminate = false;
                compile.Value = compile.MaxValue;
            });
        var total = clock.Elapsed;
        string loadPart = last.ItemsDone > 0
            ? string.Create(CultureInfo.InvariantCulture, $"loaded {last.ItemsDone} {(last.Item.EndsWith(".plan", StringComparison.Ordinal) ? "plans" : "tensors")}, {Size(last.BytesDone)}, in {loaded.TotalSeconds:F1} s")
            : string.Create(CultureInfo.InvariantCulture, $"loaded the model in {(kernels > 0 ? loaded : total).TotalSeconds:F1} s");
        string compilePart = kernels > 0
            ? string.Create(CultureInfo.InvariantCulture, $"; compiled {kernels} kernel calls ({passes} passes) in {(total - loaded).TotalSeconds:F1} s")
            : "; nothing to compile";
        ctx.Error.WriteLine(loadPart + compilePart);
        return result;
    }

    private static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e9:F1} GB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e6:F1} MB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e3:F1} kB"),
    };

    /// <summary>Calls its action on the reporting thread (Spectre's tasks take updates from any thread).</summary>
    private sealed class Receiver<TValue>(Action<TValue> report) : IProgress<TValue>
    {
        public void Report(TValue value) => report(value);
    }
}
