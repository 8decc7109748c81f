namespace Candle.Transformers.Generation;

/// <summary>The outcome of <see cref="TextGenerator.Generate(IReadOnlyList{int}, GenerationOptions, Action{GeneratedToken}?, CancellationToken)"/>.</summary>
public sealed record GenerationResult
{
    /// <summary>The prompt token ids.</summary>
    public required IReadOnlyList<int> PromptIds { get; init; }

    /// <summary>The new token ids (a stop token, when one ended generation, is included).</summary>
    public required IReadOnlyList<int> GeneratedIds { get; init; }

    /// <summary>The prompt followed by the new tokens (transformers' <c>generate</c> output).</summary>
    public IReadOnlyList<int> Ids => [.. PromptIds, .. GeneratedIds];

    /// <summary>The decoded new tokens, or null when the generator has no tokenizer.</summary>
    public string? Text { get; init; }

    /// <summary>Why generation ended.</summary>
    public required FinishReason FinishReason { get; init; }

    /// <summary>Time spent on the prompt (the prefill step).</summary>
    public required TimeSpan PrefillTime { get; init; }

    /// <summary>Time spent on decode steps (each runs the model on one token).</summary>
    public required TimeSpan DecodeTime { get; init; }

    /// <summary>Number of decode steps run.</summary>
    public required int DecodeSteps { get; init; }

    /// <summary>
    /// Leading prompt tokens whose cache entries were kept from the previous generation (see
    /// <see cref="TextGenerator.ReusePromptPrefix"/>); only the rest of the prompt ran through the prefill.
    /// </summary>
    public int ReusedPromptTokens { get; init; }

    /// <summary>Prompt tokens processed per second (those the prefill ran: the prompt less the reused prefix).</summary>
    public double PrefillTokensPerSecond => PrefillTime > TimeSpan.Zero ? (PromptIds.Count - ReusedPromptTokens) / PrefillTime.TotalSeconds : 0;

    /// <summary>Decode steps per second (tokens generated after the first).</summary>
    public double DecodeTokensPerSecond => DecodeTime > TimeSpan.Zero ? DecodeSteps / DecodeTime.TotalSeconds : 0;
}
