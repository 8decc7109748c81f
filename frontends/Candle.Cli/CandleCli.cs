using System.CommandLine;
using Candle.Cli.Commands;

namespace Candle.Cli;

/// <summary>The <c>candle</c> command line: builds the command tree and turns user mistakes into one-line errors.</summary>
public static class CandleCli
{
    /// <summary>Parses and runs <paramref name="args"/>; returns the process exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Run(args, TextReader.Null, stdout, stderr, progress: false);

    /// <summary>Parses and runs <paramref name="args"/> reading <paramref name="stdin"/> (for <c>candle chat</c>); returns the process exit code.</summary>
    /// <param name="args">The command line.</param>
    /// <param name="stdin">Standard input.</param>
    /// <param name="stdout">Standard output.</param>
    /// <param name="stderr">Standard error.</param>
    /// <param name="progress">Whether long steps print progress lines on <paramref name="stderr"/> (on for a terminal, off when it is redirected).</param>
    public static int Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr, bool progress)
    {
        ArgumentNullException.ThrowIfNull(stdin);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var root = new RootCommand("candle: compile and run Hugging Face models with Candle.Compiler");
        var context = new CliContext(stdin, stdout, stderr, progress);
        root.Subcommands.Add(InspectCommand.Create(context));
        root.Subcommands.Add(EvalCommand.Create(context));
        root.Subcommands.Add(CompileCommand.Create(context));
        root.Subcommands.Add(GenerateCommand.Create(context));
        root.Subcommands.Add(ChatCommand.Create(context));
        root.Subcommands.Add(BenchCommand.Create(context));
        root.Subcommands.Add(GraphCommand.Create(context));
        root.Subcommands.Add(TemplateCommand.Create(context));
        root.Subcommands.Add(EmbedCommand.Create(context));
        root.Subcommands.Add(GradCommand.Create(context));
        root.Subcommands.Add(TrainCommand.Create(context));
        root.Subcommands.Add(QuantizeCommand.Create(context));
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            stderr.WriteLine($"error: {CliText.ParseError(parsed.Errors[0].Message)}");
            return 2;
        }

        return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
    }
}
