using System.CommandLine;

namespace Candle.Cli.Commands;

/// <summary>
/// The model a command works on: the first argument, or <c>-m</c>/<c>--model</c> as llama.cpp users write it
/// (<c>candle generate -m model.gguf -p "Hello" -n 32</c>). Exactly one of the two must be given.
/// </summary>
internal sealed class ModelInput
{
    public ModelInput(string description)
    {
        Argument = new Argument<string?>("model") { Description = description + " (or give it with -m)", Arity = ArgumentArity.ZeroOrOne };
        Option = new Option<string?>("--model", "-m") { Description = "the model, instead of the first argument" };
    }

    /// <summary>The positional form.</summary>
    public Argument<string?> Argument { get; }

    /// <summary>The <c>-m</c>/<c>--model</c> form.</summary>
    public Option<string?> Option { get; }

    /// <summary>The model path given.</summary>
    /// <exception cref="ArgumentException">Neither or both forms were given.</exception>
    public string Resolve(ParseResult parse)
    {
        string? positional = parse.GetValue(Argument), named = parse.GetValue(Option);
        if (positional is not null && named is not null)
        {
            throw new ArgumentException($"the model is given twice ('{CliText.Escape(positional)}' and -m '{CliText.Escape(named)}'); give one");
        }

        return positional ?? named ?? throw new ArgumentException("no model: give it as the first argument or with -m/--model");
    }
}
