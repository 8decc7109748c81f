namespace Candle.Transformers.Generation;

/// <summary>How to pick tokens: greedy, or sampling with temperature, top-k, top-p; plus a repetition penalty, stop tokens and a seed.</summary>
public sealed record GenerationOptions
{
    /// <summary>Number of new tokens to produce at most.</summary>
    public int MaxNewTokens { get; init; } = 32;

    /// <summary>Always take the most likely token (ignores temperature, top-k and top-p).</summary>
    public bool Greedy { get; init; } = true;

    /// <summary>Softmax temperature for sampling (must be &gt; 0).</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Keep only the k most likely tokens (0 disables).</summary>
    public int TopK { get; init; }

    /// <summary>Keep the smallest set of tokens whose probability reaches p (1 disables).</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>CTRL-style penalty for tokens already present (1 disables): positive logits are divided by it, negative ones multiplied.</summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>Seed of the sampler's random numbers.</summary>
    public ulong Seed { get; init; } = 299792458;

    /// <summary>Token ids that end generation (the stop token is included in the output).</summary>
    public IReadOnlyCollection<int> StopTokens { get; init; } = [];

    /// <summary>
    /// Text that ends generation as soon as the generated text contains it (needs a tokenizer). The token that
    /// completes it is streamed and kept in <see cref="GenerationResult.GeneratedIds"/>; <see cref="GenerationResult.Text"/>
    /// is cut before the stop string.
    /// </summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>
    /// Min-p sampling: after temperature, top-k and top-p, drops tokens whose probability is below
    /// <c>MinP</c> times the most likely token's (0 keeps all), as transformers' <c>min_p</c>.
    /// </summary>
    public double MinP { get; init; }

    /// <summary>When true, the model's end-of-sequence tokens do not end generation (only <see cref="StopTokens"/> do).</summary>
    public bool IgnoreEos { get; init; }

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is outside its range; the message names it.</exception>
    public void Validate()
    {
        if (MaxNewTokens < 0) throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), MaxNewTokens, "must be ≥ 0");
        if (!Greedy && !(Temperature > 0)) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "must be > 0");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "must be ≥ 0");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "must be in (0, 1]");
        if (!(MinP >= 0 && MinP <= 1)) throw new ArgumentOutOfRangeException(nameof(MinP), MinP, "must be in [0, 1]");
        if (StopStrings.Any(string.IsNullOrEmpty)) throw new ArgumentException("stop strings must not be empty", nameof(StopStrings));
        if (!(RepetitionPenalty > 0)) throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), RepetitionPenalty, "must be > 0");
    }
}
