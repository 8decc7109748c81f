namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// Every case of <see cref="NormFoldTests"/> with <see cref="GpuLowering.StagedGemvVariable"/> on: the folded products
/// run the staged kernel (checked where a fold applies) and still match the reference interpreter.
/// </summary>
[Collection(EnvironmentSwitchCollection.Name)]
public sealed class StagedNormFoldTests : NormFoldTests, IDisposable
{
    /// <summary>Turns staging on for the test.</summary>
    public StagedNormFoldTests() => Environment.SetEnvironmentVariable(GpuLowering.StagedGemvVariable, "1");

    /// <inheritdoc/>
    protected override bool Staged => true;

    /// <summary>Turns staging off again.</summary>
    public void Dispose() => Environment.SetEnvironmentVariable(GpuLowering.StagedGemvVariable, null);
}
