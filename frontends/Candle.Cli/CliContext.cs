namespace Candle.Cli;

/// <summary>Where a command writes, and the one place that turns exceptions into one-line errors.</summary>
public sealed class CliContext
{
    /// <summary>Creates a context.</summary>
    public CliContext(TextWriter output, TextWriter error)
    {
        Out = output;
        Error = error;
    }

    /// <summary>Standard output.</summary>
    public TextWriter Out { get; }

    /// <summary>Standard error.</summary>
    public TextWriter Error { get; }

    /// <summary>What the command is doing (for the one-line out-of-memory report), such as "loading the model".</summary>
    public string Stage { get; set; } = "starting";

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
            Error.WriteLine($"error: {message}");
            if (Environment.GetEnvironmentVariable("CANDLE_DEBUG") == "1")
            {
                Error.WriteLine(inner);
            }

            return 1;
        }
    }
}
