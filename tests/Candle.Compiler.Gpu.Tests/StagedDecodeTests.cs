using Candle.Runtime;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// The tiny llama's decode of <see cref="FoldedDecodeTests"/> with <see cref="GpuLowering.StagedGemvVariable"/> on:
/// greedy f32 decoding through the session against the CPU session, and one f16 static decode step against the
/// reference interpreter, each with its products staged.
/// </summary>
[Collection(EnvironmentSwitchCollection.Name)]
public sealed class StagedDecodeTests
{
    [Fact]
    public void Greedy_f32_decoding_with_staged_products_matches_the_cpu_session()
    {
        Environment.SetEnvironmentVariable(GpuLowering.StagedGemvVariable, "1");
        try
        {
            using var sessions = new TinyLlamaSessions();
            var plan = FoldedDecodeTests.AssertGreedyDecode(sessions);
            Assert.True(plan.StagedSteps > 0, "no product was staged");
        }
        finally
        {
            Environment.SetEnvironmentVariable(GpuLowering.StagedGemvVariable, null);
        }
    }

    [Fact]
    public void An_f16_decode_step_with_staged_products_matches_the_reference_interpreter()
    {
        Environment.SetEnvironmentVariable(GpuLowering.StagedGemvVariable, "1");
        try
        {
            Assert.True(FoldedDecodeTests.AssertSixteenBitStep(DType.F16) > 0, "no product was staged");
        }
        finally
        {
            Environment.SetEnvironmentVariable(GpuLowering.StagedGemvVariable, null);
        }
    }
}
