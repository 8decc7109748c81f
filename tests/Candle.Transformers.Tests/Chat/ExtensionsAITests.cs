using Candle.Transformers.Chat;
using Candle.Transformers.Chat.Templates;
using Candle.Transformers.Embeddings;
using Candle.Transformers.Generation;
using Microsoft.Extensions.AI;

namespace Candle.Transformers.Tests.Chat;

/// <summary>The Microsoft.Extensions.AI adapters, called only through IChatClient and IEmbeddingGenerator.</summary>
public sealed class ExtensionsAITests
{
    private static readonly Reference Llama = Reference.Load("llama");
    private static readonly Lazy<TextGenerator> Generator = new(() => TextGenerator.Load(Llama.Dir, "reference"));
    private const string Template = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";
    private const string Prompt = "<|system|>Be brief.\n<|user|>hello\n<|assistant|>";

    private static IChatClient Client() => new CandleChatClient(Generator.Value, ChatTemplate.Parse(Template), "tiny-llama");

    private static List<ChatMessage> Messages() => [new(ChatRole.System, "Be brief."), new(ChatRole.User, "hello")];

    [Fact]
    public async Task Chat_client_response_is_the_greedy_continuation_of_the_rendered_prompt()
    {
        using var client = Client();
        var response = await client.GetResponseAsync(Messages(), new ChatOptions { MaxOutputTokens = 5, Temperature = 0 });
        var expected = Generator.Value.Generate(Prompt, new GenerationOptions { MaxNewTokens = 5 });
        Assert.Equal(expected.Text, response.Text);
        Assert.Equal(ChatRole.Assistant, response.Messages[^1].Role);
        Assert.Equal(5, response.Usage!.OutputTokenCount);
        Assert.Equal(expected.PromptIds.Count, response.Usage.InputTokenCount);
        Assert.Equal("tiny-llama", client.GetService<ChatClientMetadata>()!.DefaultModelId);
    }

    [Fact]
    public async Task Chat_client_streams_the_same_text()
    {
        using var client = Client();
        var text = new System.Text.StringBuilder();
        await foreach (var update in client.GetStreamingResponseAsync(Messages(), new ChatOptions { MaxOutputTokens = 5 }))
        {
            Assert.Equal(ChatRole.Assistant, update.Role);
            text.Append(update.Text);
        }

        var pieces = new List<GeneratedToken>();
        Generator.Value.Generate(Prompt, new GenerationOptions { MaxNewTokens = 5 }, pieces.Add);
        Assert.Equal(string.Concat(pieces.Select(p => p.Text)), text.ToString());
    }

    [Fact]
    public async Task Embedding_generator_returns_the_embedder_vectors()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"bert-meai-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            foreach (string f in Directory.GetFiles(Candle.Tests.Fixtures.Model("bert"))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
            File.WriteAllLines(Path.Combine(dir, "vocab.txt"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!"]);
            using var embedder = SentenceEmbedder.Load(dir, "cpu");
            using IEmbeddingGenerator<string, Embedding<float>> generator = new CandleEmbeddingGenerator(embedder, "tiny-bert");
            var result = await generator.GenerateAsync(["hello world!", "world"]);
            Assert.Equal(2, result.Count);
            Assert.Equal(embedder.EmbedIds([[2, 5, 6, 7, 3]])[0], result[0].Vector.ToArray());
            Assert.Equal(embedder.EmbedIds([[2, 6, 3]])[0], result[1].Vector.ToArray());
            Assert.Equal(128, generator.GetService<EmbeddingGeneratorMetadata>()!.DefaultModelDimensions);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
