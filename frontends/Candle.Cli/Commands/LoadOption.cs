using System.CommandLine;
using Candle.Transformers.Models;

namespace Candle.Cli.Commands;

/// <summary>The <c>--allow-unused-tensors</c> option of the commands that load models.</summary>
internal static class LoadOption
{
    public static Option<bool> Create() => new("--allow-unused-tensors")
    {
        Description = "load a checkpoint that has tensors the model does not read (by default an error: the config does not match the checkpoint)",
    };

    /// <summary>The load options the flag asks for.</summary>
    public static ModelLoadOptions Resolve(bool allowUnused) => allowUnused ? new ModelLoadOptions { AllowUnusedTensors = true } : ModelLoadOptions.Default;
}
