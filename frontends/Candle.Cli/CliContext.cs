using System.Diagnostics;
using System.Globalization;

namespace Candle.Cli;

/// <summary>Where a command reads and writes, its progress lines, and the one place that turns exceptions into one-line errors.</summary>
public sealed class CliContext
{
    private readonly Stopwatch _stageClock = new();
    private string _stage = "starting";

    /// <summary>Creates a context that reads nothing from standard input and prints no progress.</summary>
    public CliContext(TextWriter output, TextWriter error)
        : this(TextReader.Null, output, error, progress: false)
    {
    }

    /// <summary>Creates a context.</summary>
    /// <param name="input">Standard input (what <c>candle chat</c> reads).</param>
    /// <param name="output">Standard output.</param>
    /// <param name="error">Standard error.</param>
    /// <param name="progress">Whether each long step prints a progress line with its time on <paramref name="error"/> (for a terminal, not for redirected output).</param>
    public CliContext(TextReader input, TextWriter output, TextWriter error, bool progress)
    {
        In = input;
        Out = output;
        Error = error;
        Progress = progress;
    }

    /// <summary>Standard input.</summary>
    public TextReader In { get; }

    /// <summary>Standard output.</summary>
    public TextWriter Out { get; }

    /// <summary>Standard error.</summary>
    public TextWriter Error { get; }

    /// <summary>Whether steps print progress lines on <see cref="Error"/>.</summary>
    public bool Progress { get; }

    /// <summary>
    /// What the command is doing (for the one-line out-of-memory report), such as "loading the model". With
    /// <see cref="Progress"/> on, setting it ends the previous step's line with its time and starts a new one;
    /// "done" ends the last.
    /// </summary>
    public string Stage
    {
        get => _stage;
        set
        {
            if (Progress)
            {
                if (_stageClock.IsRunning) Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $" {_stageClock.Elapsed.TotalSeconds:F1} s"));
                if (value != "done") Error.Write($"{value}...");
                _stageClock.Restart();
                if (value == "done") _stageClock.Reset();
            }

            _stage = value;
        }
    }

    /// <summary>
    /// Sets <see cref="Stage"/> for a step that prints its own output (streaming text): the previous step's progress
    /// line ends with its time and no new one starts.
    /// </summary>
    public void SetStageQuietly(string stage)
    {
        Stage = "done";
        _stage = stage;
    }

    /// <summary>
    /// Runs a command body: a user mistake (bad file, bad option, unsupported model...) prints one line
    /// <c>error: ...</c> and returns 1, as does running out of memory (naming the <see cref="Stage"/>); set
    /// CANDLE_DEBUG=1 to see the stack trace.
    /// </summary>
    public int Guard(Func<int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            return body();
        }
        catch (Exception e)
        {
            var inner = e is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerExceptions[0] : e;
            string message = inner is OutOfMemoryException
                ? $"out of memory while {Stage}" + (inner is InsufficientMemoryException ? ": " + CliText.OneLine(inner.Message) : "")
                : CliText.ErrorLine(inner);
            if (Progress && _stageClock.IsRunning) Error.WriteLine();
            Error.WriteLine($"error: {message}");
            if (Environment.GetEnvironmentVariable("CANDLE_DEBUG") == "1")
            {
                Error.WriteLine(inner);
            }

            return 1;
        }
        finally
        {
            if (Progress && _stageClock.IsRunning) Stage = "done";
        }
    }
}
