namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// The test classes that set the backend's process-wide switches (<c>CANDLE_GPU_*</c> environment variables). The
/// lowering reads them while it compiles, so these classes run alone: never beside another class whose compilation
/// would see a switch flip halfway.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EnvironmentSwitchCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "environment switches";
}
