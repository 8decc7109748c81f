using System.Runtime.CompilerServices;
using Candle.Transformers.Chat.Templates;
using Candle.Transformers.Generation;
using Microsoft.Extensions.AI;

namespace Candle.Transformers.Chat;

/// <summary>
/// A Microsoft.Extensions.AI <see cref="IChatClient"/> over a Candle <see cref="TextGenerator"/>: messages are
/// rendered with the model's chat template, and <see cref="ChatOptions"/> map to generation settings
/// (max output tokens, temperature, top-p, top-k, seed, stop sequences). Text content only.
/// </summary>
public sealed class CandleChatClient : IChatClient
{
    private readonly bool _ownsGenerator;

    /// <summary>Creates a client.</summary>
    /// <param name="generator">The generator (with a tokenizer).</param>
    /// <param name="template">The model's chat template.</param>
    /// <param name="modelId">The model name reported in responses and metadata.</param>
    /// <param name="bosToken">The template's <c>bos_token</c>.</param>
    /// <param name="eosToken">The template's <c>eos_token</c>.</param>
    /// <param name="ownsGenerator">Whether disposing the client disposes the generator.</param>
    public CandleChatClient(TextGenerator generator, ChatTemplate template, string modelId = "candle", string? bosToken = null, string? eosToken = null, bool ownsGenerator = false)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentNullException.ThrowIfNull(template);
        if (generator.Tokenizer is null) throw new ArgumentException("the generator needs a tokenizer for chat", nameof(generator));
        Generator = generator;
        Template = template;
        ModelId = modelId;
        BosToken = bosToken;
        EosToken = eosToken;
        _ownsGenerator = ownsGenerator;
        Metadata = new ChatClientMetadata("candle", null, modelId);
    }

    /// <summary>The generator.</summary>
    public TextGenerator Generator { get; }

    /// <summary>The chat template.</summary>
    public ChatTemplate Template { get; }

    /// <summary>The model name.</summary>
    public string ModelId { get; }

    /// <summary>The template's <c>bos_token</c>.</summary>
    public string? BosToken { get; }

    /// <summary>The template's <c>eos_token</c>.</summary>
    public string? EosToken { get; }

    /// <summary>Provider name and model id.</summary>
    public ChatClientMetadata Metadata { get; }

    /// <summary>Settings used where <see cref="ChatOptions"/> leaves them unset.</summary>
    public GenerationOptions DefaultOptions { get; init; } = new() { MaxNewTokens = 256 };

    /// <inheritdoc/>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var ids = Encode(messages);
        var generation = ToGenerationOptions(options);
        var result = await Task.Run(() => Generator.Generate(ids, generation, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, result.Text ?? string.Empty))
        {
            ModelId = ModelId,
            FinishReason = result.FinishReason == FinishReason.Length ? ChatFinishReason.Length : ChatFinishReason.Stop,
            Usage = new UsageDetails { InputTokenCount = ids.Length, OutputTokenCount = result.GeneratedIds.Count, TotalTokenCount = ids.Length + result.GeneratedIds.Count },
        };
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var ids = Encode(messages);
        string responseId = Guid.NewGuid().ToString("N");
        await foreach (var token in Generator.GenerateAsync(ids, ToGenerationOptions(options), cancellationToken).ConfigureAwait(false))
        {
            if (token.Text.Length == 0) continue;
            yield return new ChatResponseUpdate(ChatRole.Assistant, token.Text) { ModelId = ModelId, ResponseId = responseId };
        }
    }

    /// <inheritdoc/>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return Metadata;
        return serviceType.IsInstanceOfType(this) ? this : serviceType.IsInstanceOfType(Generator) ? Generator : null;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_ownsGenerator) Generator.Dispose();
    }

    /// <summary>The prompt the template renders for <paramref name="messages"/>, ending with the generation prompt.</summary>
    public string RenderPrompt(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var turns = messages.Select(m => new ChatTurn(m.Role.Value, m.Text));
        return Template.Apply(turns, addGenerationPrompt: true, bosToken: BosToken, eosToken: EosToken);
    }

    private int[] Encode(IEnumerable<ChatMessage> messages) => [.. Generator.Tokenizer!.EncodeToIds(RenderPrompt(messages))];

    private GenerationOptions ToGenerationOptions(ChatOptions? o)
    {
        var g = DefaultOptions;
        if (o is null) return g;
        bool sampling = o.Temperature is > 0 || o.TopP is not null || o.TopK is not null;
        g = g with
        {
            MaxNewTokens = o.MaxOutputTokens ?? g.MaxNewTokens,
            Greedy = sampling ? false : g.Greedy,
            Temperature = o.Temperature is > 0 ? o.Temperature.Value : g.Temperature,
            TopP = o.TopP ?? g.TopP,
            TopK = o.TopK ?? g.TopK,
            Seed = o.Seed is long seed ? unchecked((ulong)seed) : g.Seed,
            StopStrings = o.StopSequences is { Count: > 0 } stops ? [.. stops] : g.StopStrings,
        };
        if (o.Temperature == 0) g = g with { Greedy = true };
        return g;
    }
}
