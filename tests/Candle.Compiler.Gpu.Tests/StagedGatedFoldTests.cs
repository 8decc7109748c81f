namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// Every case of <see cref="GatedFoldTests"/> with <see cref="GpuLowering.StagedGemvVariable"/> on: the gated products
/// run the staged kernel (checked where a fold applies) and still match the reference interpreter.
/// </summary>
[Collection(EnvironmentSwitchCollection.Name)]
public sealed class StagedGatedFoldTests : GatedFoldTests, IDisposable
{
    /// <summary>Turns staging on for the test.</summary>
    public StagedGatedFoldTests() => Environment.SetEnvironmentVariable(GpuLowering.StagedGemvVariable, "1");

    /// <inheritdoc/>
    protected override bool Staged => true;

    /// <summary>Turns staging off again.</summary>
    public void Dispose() => Environment.SetEnvironmentVariable(GpuLowering.StagedGemvVariable, null);
}
