using System.Diagnostics;
using Spectre.Console;

namespace Candle.Cli;

/// <summary>
/// The CLI's Spectre.Console progress display on standard error, shared by every long step (loading, compiling,
/// quantizing, benchmarking). It is shown only with progress on (standard error is a terminal, see Program.cs); on
/// the process's terminal the live display is asked for outright, and any other writer (tests) gets Spectre's
/// detection, which writes plain text. With progress off nothing is written.
/// </summary>
internal static class CliProgress
{
    /// <summary>The console that writes the display to <see cref="CliContext.Error"/>.</summary>
    public static IAnsiConsole Console(CliContext ctx)
    {
        bool terminal = ReferenceEquals(ctx.Error, System.Console.Error);
        return AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(ctx.Error),
            Ansi = terminal ? AnsiSupport.Yes : AnsiSupport.Detect,
            Interactive = terminal ? InteractionSupport.Yes : InteractionSupport.Detect,
        });
    }

    /// <summary>The display's columns: description, bar, percentage, elapsed time, spinner.</summary>
    public static Progress Display(CliContext ctx) => Console(ctx).Progress()
        .AutoClear(true)
        .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn());

    /// <summary>
    /// Runs <paramref name="body"/> with one progress task named <paramref name="description"/> (null when progress is
    /// off), then writes <paramref name="summary"/>'s line (given the elapsed time) on standard error.
    /// </summary>
    public static T Run<T>(CliContext ctx, string description, Func<ProgressTask?, T> body, Func<T, TimeSpan, string> summary)
    {
        if (!ctx.Progress) return body(null);
        var clock = Stopwatch.StartNew();
        T result = default!;
        Display(ctx).Start(display =>
        {
            var task = display.AddTask(Markup.Escape(description), maxValue: 1);
            result = body(task);
            task.Value = task.MaxValue;
        });
        ctx.Error.WriteLine(summary(result, clock.Elapsed));
        return result;
    }
}
