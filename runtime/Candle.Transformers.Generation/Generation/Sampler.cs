namespace Candle.Transformers.Generation;

/// <summary>
/// Picks the next token from a row of logits, in the order transformers applies its processors:
/// repetition penalty, then temperature, top-k, top-p, then a draw (or argmax when greedy).
/// Deterministic for a given seed.
/// </summary>
public sealed class Sampler
{
    private readonly GenerationOptions _options;
    private ulong _state;

    /// <summary>Creates a sampler.</summary>
    public Sampler(GenerationOptions options)
    {
        options.Validate();
        _options = options;
        _state = options.Seed ^ 0x9E3779B97F4A7C15UL;
    }

    /// <summary>
    /// Whether the choice is the argmax of the logits as they are (greedy, with no repetition penalty: no processor
    /// changes the scores), so a device that computes <see cref="ArgMax"/>'s choice itself can stand in for
    /// <see cref="Next"/>, which then draws nothing.
    /// </summary>
    public bool IsPlainGreedy => _options.Greedy && _options.RepetitionPenalty == 1.0;

    /// <summary>Chooses a token id given the logits of the last position and the ids seen so far.</summary>
    public int Next(ReadOnlySpan<float> logits, IReadOnlyCollection<int> previous)
    {
        if (logits.IsEmpty) throw new ArgumentException("logits are empty", nameof(logits));
        var scores = new double[logits.Length];
        for (int i = 0; i < scores.Length; i++) scores[i] = logits[i];
        if (_options.RepetitionPenalty != 1.0)
        {
            foreach (int id in previous.Distinct())
            {
                if ((uint)id < (uint)scores.Length)
                {
                    scores[id] = scores[id] > 0 ? scores[id] / _options.RepetitionPenalty : scores[id] * _options.RepetitionPenalty;
                }
            }
        }

        if (_options.Greedy) return ArgMax(scores);

        for (int i = 0; i < scores.Length; i++) scores[i] /= _options.Temperature;
        int[] order = [.. Enumerable.Range(0, scores.Length).OrderByDescending(i => scores[i]).ThenBy(i => i)];
        int keep = order.Length;
        if (_options.TopK > 0) keep = Math.Min(keep, _options.TopK);

        double max = scores[order[0]];
        var probs = new double[keep];
        double total = 0;
        for (int r = 0; r < keep; r++)
        {
            probs[r] = Math.Exp(scores[order[r]] - max);
            total += probs[r];
        }

        if (_options.TopP < 1.0)
        {
            double cumulative = 0;
            int cut = keep;
            for (int r = 0; r < keep; r++)
            {
                cumulative += probs[r] / total;
                if (cumulative >= _options.TopP)
                {
                    cut = r + 1;
                    break;
                }
            }

            keep = cut;
            total = probs.Take(keep).Sum();
        }

        if (_options.MinP > 0)
        {
            // probs[0] is the most likely token's weight (exp(0) = 1 before normalization).
            double floor = _options.MinP * probs[0];
            int cut = 1;
            while (cut < keep && probs[cut] >= floor) cut++;
            keep = cut;
            total = probs.Take(keep).Sum();
        }

        double u = NextDouble() * total;
        for (int r = 0; r < keep; r++)
        {
            u -= probs[r];
            if (u < 0) return order[r];
        }

        return order[keep - 1];
    }

    /// <summary>Index of the first maximum (NaN counts as the maximum, as torch.argmax).</summary>
    public static int ArgMax(ReadOnlySpan<double> scores)
    {
        int best = 0;
        for (int i = 1; i < scores.Length; i++)
        {
            if (double.IsNaN(scores[best])) return best;
            if (scores[i] > scores[best] || double.IsNaN(scores[i])) best = i;
        }

        return best;
    }

    private double NextDouble()
    {
        // splitmix64: small, fast, and reproducible across platforms.
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }
}
