using Candle.Transformers.Generation;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// <see cref="DecoderSession.GreedyOnHostVariable"/> set to 1 makes a device session's greedy decoding copy the logits
/// back and pick on the host, with the tokens of the device's choice.
/// </summary>
[Collection(EnvironmentSwitchCollection.Name)]
public sealed class GreedyOnHostSwitchTests(TinyLlamaSessions sessions) : IClassFixture<TinyLlamaSessions>
{
    [Fact]
    public void The_switch_turns_the_device_token_off_for_sessions_made_while_it_is_set()
    {
        DecoderSession onHost;
        Environment.SetEnvironmentVariable(DecoderSession.GreedyOnHostVariable, "1");
        try
        {
            onHost = DecoderSession.Compile(sessions.Model, GpuBackends.IlgpuCpu);
        }
        finally
        {
            Environment.SetEnvironmentVariable(DecoderSession.GreedyOnHostVariable, null);
        }

        using (onHost)
        {
            Assert.True(onHost.CacheOnDevice);
            Assert.False(onHost.GreedyOnDevice);
            Assert.False(onHost.ChoosesTokenOnDevice);
            Assert.True(sessions.Gpu.ChoosesTokenOnDevice);

            int[] prompt = [1, 5, 17, 40, 2];
            var options = new GenerationOptions { MaxNewTokens = 5, IgnoreEos = true };
            var expected = new TextGenerator(sessions.Gpu).Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken);
            var actual = new TextGenerator(onHost).Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal(expected.GeneratedIds, actual.GeneratedIds);
            Assert.Equal((1 + actual.DecodeSteps) * (long)onHost.Shape.VocabSize * sizeof(float), onHost.BytesCopiedToHost);
        }
    }
}
