using Candle.Compiler.Backends.Cpu;
using Candle.Transformers.Generation;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Tests;

/// <summary>
/// <see cref="TextGenerator.ReusePromptPrefix"/>: a generation whose prompt starts with the tokens the previous one left
/// in the cache prefills only the rest, and continues exactly as a generator that prefills the whole prompt.
/// </summary>
public class PromptPrefixReuseTests
{
    private static readonly Reference Llama = Reference.Load("llama");

    private static readonly GenerationOptions Options = new() { MaxNewTokens = 4, IgnoreEos = true };

    private static TextGenerator Generator(bool reuse)
    {
        var model = (ICausalLanguageModel)ModelRegistry.Load(Llama.Dir);
        return new TextGenerator(DecoderSession.Compile(model, CpuBackend.Instance)) { ReusePromptPrefix = reuse };
    }

    [Fact]
    public void A_prompt_that_continues_the_last_generation_prefills_only_its_new_tokens()
    {
        using var reusing = Generator(true);
        using var fresh = Generator(false);
        int[] prompt = Llama.PromptIds;
        var first = reusing.Generate(prompt, Options);
        Assert.Equal(0, first.ReusedPromptTokens);
        Assert.Equal(fresh.Generate(prompt, Options).GeneratedIds, first.GeneratedIds);

        // The conversation goes on: the whole last output, then new tokens. The last generated token was never fed
        // back, so the entries of the prompt and the first three generated tokens are in the cache; the new prompt
        // (longer than the cache was sized for) keeps them.
        int[] next = [.. first.Ids, .. prompt.Take(3)];
        var second = reusing.Generate(next, Options with { MaxNewTokens = 6 });
        Assert.Equal(prompt.Length + 3, second.ReusedPromptTokens);
        var want = fresh.Generate(next, Options with { MaxNewTokens = 6 });
        Assert.Equal(0, want.ReusedPromptTokens);
        Assert.Equal(want.GeneratedIds, second.GeneratedIds);
        Assert.Equal(next.Length + 5, reusing.Session.Position);
    }

    [Fact]
    public void A_prompt_that_departs_from_the_cache_keeps_only_the_common_prefix()
    {
        using var reusing = Generator(true);
        using var fresh = Generator(false);
        int[] prompt = Llama.PromptIds;
        Assert.True(prompt.Length >= 5, "the prompt needs a few tokens");
        reusing.Generate(prompt, Options);
        int[] other = [.. prompt.Take(3), (prompt[3] + 1) % reusing.Shape.VocabSize, .. prompt.Skip(4)];
        var got = reusing.Generate(other, Options);
        Assert.Equal(3, got.ReusedPromptTokens);
        Assert.Equal(fresh.Generate(other, Options).GeneratedIds, got.GeneratedIds);

        // The same prompt again: every token but the last keeps its entry (the last runs for its logits).
        var again = reusing.Generate(other, Options);
        Assert.Equal(other.Length - 1, again.ReusedPromptTokens);
        Assert.Equal(got.GeneratedIds, again.GeneratedIds);
    }

    [Fact]
    public void Nothing_is_kept_when_reuse_is_off_or_the_session_was_used_directly()
    {
        int[] prompt = Llama.PromptIds;
        using var off = Generator(false);
        off.Generate(prompt, Options);
        Assert.Equal(0, off.Generate(prompt, Options).ReusedPromptTokens);

        using var reusing = Generator(true);
        reusing.Generate(prompt, Options);
        reusing.Session.Reset(prompt.Length);
        reusing.Session.Prefill(Candle.Runtime.Tensors.HostTensor.FromArray([.. prompt.Skip(1).Select(i => (long)i)], 1, prompt.Length - 1));
        Assert.Equal(0, reusing.Generate(prompt, Options).ReusedPromptTokens);
    }

    [Fact]
    public void Keep_checks_its_arguments()
    {
        using var g = Generator(true);
        Assert.Throws<InvalidOperationException>(() => g.Session.Keep(0, 4));
        g.Generate(Llama.PromptIds, Options);
        int position = g.Session.Position;
        Assert.Throws<ArgumentOutOfRangeException>(() => g.Session.Keep(position + 1, position + 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => g.Session.Keep(2, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => g.Session.Keep(2, g.Shape.MaxPositions + 1));
        g.Session.Keep(2, position + 8);
        Assert.Equal(2, g.Session.Position);
        Assert.True(g.Session.Cache!.Capacity >= position + 8);
    }
}
