using System.Runtime.CompilerServices;
using Candle.Transformers.Chat.Templates;
using Candle.Transformers.Generation;

namespace Candle.Transformers.Chat;

/// <summary>
/// A conversation with a causal language model: keeps the history, renders it with the model's chat template
/// (adding the generation prompt), generates the reply and appends it to the history.
/// </summary>
public sealed class ChatSession
{
    private readonly List<ChatTurn> _history = [];

    /// <summary>Creates a session.</summary>
    /// <param name="generator">The text generator (with a tokenizer).</param>
    /// <param name="template">The model's chat template.</param>
    /// <param name="systemPrompt">An optional first system message.</param>
    /// <param name="bosToken">The tokenizer's BOS token text, passed to the template as <c>bos_token</c>.</param>
    /// <param name="eosToken">The tokenizer's EOS token text, passed as <c>eos_token</c>.</param>
    public ChatSession(TextGenerator generator, ChatTemplate template, string? systemPrompt = null, string? bosToken = null, string? eosToken = null)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentNullException.ThrowIfNull(template);
        if (generator.Tokenizer is null) throw new ArgumentException("the generator needs a tokenizer for chat", nameof(generator));
        Generator = generator;
        Template = template;
        BosToken = bosToken;
        EosToken = eosToken;
        if (systemPrompt is not null) _history.Add(new ChatTurn("system", systemPrompt));
    }

    /// <summary>
    /// Creates a session with the model's own chat template and BOS/EOS texts (<see cref="ModelChatTemplate.TryLoad"/>:
    /// <c>tokenizer_config.json</c>, <c>chat_template.jinja</c> or a GGUF file's <c>tokenizer.chat_template</c>).
    /// </summary>
    /// <param name="generator">The text generator (with a tokenizer).</param>
    /// <param name="modelPath">The model directory or GGUF file the generator was loaded from.</param>
    /// <param name="systemPrompt">An optional first system message.</param>
    /// <exception cref="InvalidDataException">The model has no chat template (the message says where it was looked for), or a malformed one.</exception>
    public static ChatSession ForModel(TextGenerator generator, string modelPath, string? systemPrompt = null)
    {
        var found = ModelChatTemplate.TryLoad(modelPath)
            ?? throw new InvalidDataException($"{modelPath}: no chat template (looked for chat_template.jinja, tokenizer_config.json's chat_template, chat_template.json, or a GGUF tokenizer.chat_template)");
        return new ChatSession(generator, found.Template, systemPrompt, found.BosToken, found.EosToken);
    }

    /// <summary>The generator.</summary>
    public TextGenerator Generator { get; }

    /// <summary>The chat template.</summary>
    public ChatTemplate Template { get; }

    /// <summary>The <c>bos_token</c> the template sees.</summary>
    public string? BosToken { get; }

    /// <summary>The <c>eos_token</c> the template sees.</summary>
    public string? EosToken { get; }

    /// <summary>The conversation so far.</summary>
    public IReadOnlyList<ChatTurn> History => _history;

    /// <summary>Generation settings used when a call passes none.</summary>
    public GenerationOptions DefaultOptions { get; init; } = new() { MaxNewTokens = 256 };

    /// <summary>The prompt the model would see for the history plus <paramref name="pending"/> messages, ending with the generation prompt.</summary>
    public string RenderPrompt(IEnumerable<ChatTurn>? pending = null) =>
        Template.Apply([.. _history, .. pending ?? []], addGenerationPrompt: true, bosToken: BosToken, eosToken: EosToken);

    /// <summary>Sends a user message and returns the reply, which joins the history.</summary>
    public string Send(string userMessage, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userMessage);
        var turn = new ChatTurn("user", userMessage);
        string prompt = RenderPrompt([turn]);
        var result = Generator.Generate(Encode(prompt), options ?? DefaultOptions, cancellationToken: cancellationToken);
        string reply = result.Text ?? string.Empty;
        _history.Add(turn);
        _history.Add(new ChatTurn("assistant", reply));
        return reply;
    }

    /// <summary>
    /// Sends a user message and streams the reply's tokens; when the stream completes, the user message and the
    /// reply join the history. A cancelled stream leaves the history unchanged.
    /// </summary>
    public async IAsyncEnumerable<GeneratedToken> SendAsync(string userMessage, GenerationOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userMessage);
        var turn = new ChatTurn("user", userMessage);
        var ids = Encode(RenderPrompt([turn]));
        var generated = new List<int>();
        await foreach (var token in Generator.GenerateAsync(ids, options ?? DefaultOptions, cancellationToken).ConfigureAwait(false))
        {
            generated.Add(token.Id);
            yield return token;
        }

        string reply = Generator.Tokenizer!.Decode(generated) ?? string.Empty;
        var stops = (options ?? DefaultOptions).StopStrings;
        foreach (string stop in stops)
        {
            int i = reply.IndexOf(stop, StringComparison.Ordinal);
            if (i >= 0) reply = reply[..i];
        }

        _history.Add(turn);
        _history.Add(new ChatTurn("assistant", reply));
    }

    /// <summary>Forgets the conversation (keeping a system prompt given at construction).</summary>
    public void Reset()
    {
        var system = _history.Count > 0 && _history[0].Role == "system" ? _history[0] : null;
        _history.Clear();
        if (system is not null) _history.Add(system);
    }

    private int[] Encode(string prompt) => [.. Generator.Tokenizer!.EncodeToIds(prompt)];
}
