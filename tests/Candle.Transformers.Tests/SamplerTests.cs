using CsCheck;
using Candle.Transformers.Generation;

namespace Candle.Transformers.Tests;

public class SamplerTests
{
    private static readonly Gen<float[]> Logits = Gen.Float[-8f, 8f].Array[2, 40];

    [Fact]
    public void Same_seed_gives_the_same_draws()
    {
        Gen.Select(Logits, Gen.ULong, Gen.Double[0.2, 2.0]).Sample((logits, seed, temperature) =>
        {
            var options = new GenerationOptions { Greedy = false, Temperature = temperature, Seed = seed, TopP = 0.9 };
            var a = new Sampler(options);
            var b = new Sampler(options);
            for (int i = 0; i < 20; i++)
            {
                if (a.Next(logits, []) != b.Next(logits, [])) return false;
            }

            return true;
        });
    }

    [Fact]
    public void Top_k_of_one_equals_greedy()
    {
        Gen.Select(Logits, Gen.ULong, Gen.Double[0.1, 3.0]).Sample((logits, seed, temperature) =>
        {
            var greedy = new Sampler(new GenerationOptions()).Next(logits, []);
            var topk = new Sampler(new GenerationOptions { Greedy = false, TopK = 1, Temperature = temperature, Seed = seed });
            return Enumerable.Range(0, 5).All(_ => topk.Next(logits, []) == greedy);
        });
    }

    [Fact]
    public void Greedy_takes_the_first_maximum()
    {
        var s = new Sampler(new GenerationOptions());
        Assert.Equal(1, s.Next([0f, 3f, 3f, -1f], []));
    }

    [Fact]
    public void Different_seeds_give_different_draws()
    {
        var logits = new float[50];
        int[] Draw(ulong seed)
        {
            var s = new Sampler(new GenerationOptions { Greedy = false, Seed = seed });
            return [.. Enumerable.Range(0, 30).Select(_ => s.Next(logits, []))];
        }

        Assert.NotEqual(Draw(1), Draw(2));
    }

    [Fact]
    public void Draw_frequencies_follow_the_softmax()
    {
        float[] logits = [MathF.Log(0.7f), MathF.Log(0.2f), MathF.Log(0.1f)];
        var s = new Sampler(new GenerationOptions { Greedy = false, Seed = 42 });
        var counts = new int[3];
        const int n = 20000;
        for (int i = 0; i < n; i++) counts[s.Next(logits, [])]++;
        Assert.Equal(0.7, counts[0] / (double)n, 0.02);
        Assert.Equal(0.2, counts[1] / (double)n, 0.02);
        Assert.Equal(0.1, counts[2] / (double)n, 0.02);
    }

    [Fact]
    public void Top_p_drops_the_tail()
    {
        float[] logits = [MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.2f)];
        var s = new Sampler(new GenerationOptions { Greedy = false, TopP = 0.6, Seed = 3 });
        var seen = Enumerable.Range(0, 2000).Select(_ => s.Next(logits, [])).ToHashSet();
        Assert.Equal([0, 1], seen.Order());
    }

    [Fact]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_scores_of_seen_tokens()
    {
        // [2, 1.5, -1] with token 0 seen and penalty 2 → [1, 1.5, −1]: greedy moves to token 1.
        var s = new Sampler(new GenerationOptions { RepetitionPenalty = 2 });
        Assert.Equal(1, s.Next([2f, 1.5f, -1f], [0]));

        // [-1, -1.5] with token 0 seen → [−2, −1.5]: greedy moves to token 1.
        Assert.Equal(1, s.Next([-1f, -1.5f], [0]));
    }
}
