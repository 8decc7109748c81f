using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Tests;

namespace Candle.Transformers.Tests.Gguf;

/// <summary>The llama GGUF fixtures (tests/fixtures/gguf) and the logits computed for them outside this project.</summary>
internal static class GgufFixtures
{
    public static string File(string quant) => Path.Combine(Fixtures.Dir, "gguf", $"llama-{quant}.gguf");

    /// <summary>input_ids [12] and logits [12, 512] from <c>llama-QUANT.KIND-logits.safetensors</c> (KIND = dequant or llamacpp).</summary>
    public static (long[] Ids, HostTensor Logits) Logits(string quant, string kind)
    {
        using var f = SafeTensorsFile.Open(Path.Combine(Fixtures.Dir, "gguf", $"llama-{quant}.{kind}-logits.safetensors"));
        return (f.Get("input_ids").ToInt64(), f.Get("logits").Clone());
    }

    /// <summary>Positions (rows of a [n, vocab] matrix) whose argmax agrees.</summary>
    public static int ArgmaxAgreement(float[] a, float[] b, int vocab)
    {
        int same = 0;
        for (int r = 0; r < a.Length / vocab; r++)
        {
            if (Argmax(a.AsSpan(r * vocab, vocab)) == Argmax(b.AsSpan(r * vocab, vocab))) same++;
        }

        return same;
    }

    private static int Argmax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++)
        {
            if (x[i] > x[best]) best = i;
        }

        return best;
    }
}
