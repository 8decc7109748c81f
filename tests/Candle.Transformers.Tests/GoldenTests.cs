using Candle.Compiler.Backends;
using Candle.Runtime.Tensors;
using Candle.Tests;
using Candle.Transformers.Generation;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Tests;

public class GoldenTests
{
    [Theory]
    [InlineData("llama", "reference")]
    [InlineData("gpt2", "reference")]
    [InlineData("llama", "cpu")]
    [InlineData("gpt2", "cpu")]
    [InlineData("llama", "metal-shim")]
    [InlineData("gpt2", "metal-shim")]
    public void Logits_match_transformers(string name, string backend)
    {
        var reference = Reference.Load(name);
        var model = ModelRegistry.Load(reference.Dir);
        var exe = BackendRegistry.Get(backend).Compile(model.TraceForward(), CompileOptions.Default);
        var logits = exe.Run([reference.Tensors["input_ids"]])[0];
        Assert.True(TestUtil.MaxAbsDiff(logits, reference.Tensors["logits"]) <= 1e-4, $"max abs error {TestUtil.MaxAbsDiff(logits, reference.Tensors["logits"])}");
    }

    [Theory]
    [InlineData("llama", "reference")]
    [InlineData("gpt2", "reference")]
    [InlineData("llama", "cpu")]
    [InlineData("gpt2", "cpu")]
    public void Greedy_continuation_matches_generated_ids(string name, string backend)
    {
        var reference = Reference.Load(name);
        var model = (ICausalLanguageModel)ModelRegistry.Load(reference.Dir);
        var generator = TextGenerator.Compile(model, BackendRegistry.Get(backend));
        var result = generator.Generate(reference.PromptIds, new GenerationOptions { MaxNewTokens = reference.GreedyContinuation.Length });
        Assert.Equal(reference.GreedyContinuation, result.GeneratedIds);
        Assert.Equal(reference.Tensors["generated_ids"].ToInt64().Select(x => (int)x), result.Ids);
        Assert.Equal(FinishReason.Length, result.FinishReason);
    }
}
