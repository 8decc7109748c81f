using Candle.Transformers.Chat;
using Candle.Transformers.Chat.Templates;
using Candle.Transformers.Generation;

namespace Candle.Transformers.Tests.Chat;

/// <summary>Async streaming with cancellation, stop strings, min-p and chat sessions on the llama reference model (greedy continuation from transformers).</summary>
public sealed class StreamingAndChatTests
{
    private static readonly Reference Llama = Reference.Load("llama");
    private static readonly Lazy<TextGenerator> Generator = new(() => TextGenerator.Load(Llama.Dir, "reference"));

    [Fact]
    public async Task Async_stream_yields_transformers_greedy_continuation()
    {
        var ids = new List<int>();
        await foreach (var t in Generator.Value.GenerateAsync(Llama.PromptIds, new GenerationOptions { MaxNewTokens = 6 }))
        {
            ids.Add(t.Id);
        }

        Assert.Equal(Llama.GreedyContinuation[..6], ids);
    }

    [Fact]
    public async Task Cancelling_stops_the_stream_early_and_throws()
    {
        using var cts = new CancellationTokenSource();
        var ids = new List<int>();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var t in Generator.Value.GenerateAsync(Llama.PromptIds, new GenerationOptions { MaxNewTokens = 12, IgnoreEos = true }, cts.Token))
            {
                ids.Add(t.Id);
                if (ids.Count == 2) await cts.CancelAsync();
            }
        });
        Assert.InRange(ids.Count, 2, 3);
        Assert.Equal(Llama.GreedyContinuation[..ids.Count], ids);
    }

    [Fact]
    public void A_stop_string_ends_generation_and_is_cut_from_the_text()
    {
        var g = Generator.Value;
        var tokenizer = g.Tokenizer!;
        var full = g.Generate(Llama.PromptIds, new GenerationOptions { MaxNewTokens = 8, IgnoreEos = true });
        string text = full.Text!;
        // The stop string: the first run of ASCII letters that a token completes and that the text before it lacks;
        // generation must end with that token.
        string stop = string.Empty;
        int k = 0;
        for (int n = 1; n <= 8 && stop.Length == 0; n++)
        {
            string before = tokenizer.Decode(full.GeneratedIds.Take(n - 1)) ?? string.Empty;
            string after = tokenizer.Decode(full.GeneratedIds.Take(n)) ?? string.Empty;
            foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(after, "[A-Za-z]{2,}"))
            {
                if (m.Index + m.Length > before.Length - 1 && !before.Contains(m.Value, StringComparison.Ordinal))
                {
                    stop = m.Value;
                    k = n;
                    break;
                }
            }
        }

        Assert.NotEqual(string.Empty, stop);
        var result = g.Generate(Llama.PromptIds, new GenerationOptions { MaxNewTokens = 8, IgnoreEos = true, StopStrings = [stop] });
        Assert.True(result.FinishReason == FinishReason.Stop, $"stop=[{stop}] full=[{text}] got=[{result.Text}]");
        Assert.Equal(full.GeneratedIds.Take(k), result.GeneratedIds);
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], result.Text);
    }

    [Fact]
    public void Min_p_one_keeps_only_the_most_likely_token()
    {
        var r = Generator.Value.Generate(Llama.PromptIds, new GenerationOptions { MaxNewTokens = 5, Greedy = false, Temperature = 2.0, MinP = 1.0, Seed = 3 });
        Assert.Equal(Llama.GreedyContinuation[..5], r.GeneratedIds);
    }

    [Fact]
    public void Min_p_outside_0_1_is_rejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new GenerationOptions { MinP = 1.5 }.Validate());

    private const string Template = "{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";

    [Fact]
    public async Task Chat_session_renders_history_generates_and_remembers()
    {
        var g = Generator.Value;
        var session = new ChatSession(g, ChatTemplate.Parse(Template), systemPrompt: "Be brief.") { DefaultOptions = new GenerationOptions { MaxNewTokens = 4 } };
        Assert.Equal("<|system|>Be brief.\n<|user|>hi\n<|assistant|>", session.RenderPrompt([new ChatTurn("user", "hi")]));

        string reply = session.Send("hi");
        var expected = g.Generate("<|system|>Be brief.\n<|user|>hi\n<|assistant|>", new GenerationOptions { MaxNewTokens = 4 });
        Assert.Equal(expected.Text, reply);
        Assert.Equal([new ChatTurn("system", "Be brief."), new ChatTurn("user", "hi"), new ChatTurn("assistant", reply)], session.History);

        string second = "<|system|>Be brief.\n<|user|>hi\n<|assistant|>" + reply + "\n<|user|>more\n<|assistant|>";
        Assert.Equal(second, session.RenderPrompt([new ChatTurn("user", "more")]));
        var streamed = new List<int>();
        await foreach (var t in session.SendAsync("more")) streamed.Add(t.Id);
        Assert.Equal(g.Generate(second, new GenerationOptions { MaxNewTokens = 4 }).GeneratedIds, streamed);
        Assert.Equal(5, session.History.Count);
        session.Reset();
        Assert.Single(session.History);
    }
}
