using Candle.Transformers.Embeddings;
using static Candle.Transformers.Tests.Encoders.EncoderTestKit;

namespace Candle.Transformers.Tests.Encoders;

/// <summary>
/// SentenceEmbedder on the bundled BERT reference: its mean pooling equals the mean of transformers' stored
/// last_hidden_state over each row's attention mask, for rows embedded together (padded) or alone.
/// </summary>
public sealed class SentenceEmbedderTests
{
    private static readonly Lazy<SentenceEmbedder> Mean = new(() => SentenceEmbedder.Load(Candle.Tests.Fixtures.Model("bert"), "cpu", Pooling.Mean, normalize: false));

    private static (List<IReadOnlyList<int>> Sequences, List<IReadOnlyList<int>> Types, float[][] MeanPooled, float[][] Cls) Reference()
    {
        using var refs = ReferenceFile("bert");
        var ids = refs.Get("input_ids").ToInt64();
        var tt = refs.Get("token_type_ids").ToInt64();
        var types = new List<IReadOnlyList<int>>();
        var mask = refs.Get("attention_mask").ToInt64();
        var hidden = refs.Get("last_hidden_state");
        int batch = hidden.Shape[0], seq = hidden.Shape[1], dim = hidden.Shape[2];
        var h = hidden.ToFloat32();
        var sequences = new List<IReadOnlyList<int>>();
        var means = new float[batch][];
        var cls = new float[batch][];
        for (int b = 0; b < batch; b++)
        {
            int kept = 0;
            while (kept < seq && mask[(b * seq) + kept] == 1) kept++;
            for (int t = kept; t < seq; t++) Assert.Equal(0, mask[(b * seq) + t]);
            sequences.Add([.. ids.Skip(b * seq).Take(kept).Select(x => (int)x)]);
            types.Add([.. tt.Skip(b * seq).Take(kept).Select(x => (int)x)]);
            means[b] = new float[dim];
            cls[b] = h.Skip(b * seq * dim).Take(dim).ToArray();
            for (int d = 0; d < dim; d++)
            {
                double sum = 0;
                for (int t = 0; t < kept; t++) sum += h[(((b * seq) + t) * dim) + d];
                means[b][d] = (float)(sum / kept);
            }
        }

        Assert.NotEqual(sequences[0].Count, sequences[1].Count);
        return (sequences, types, means, cls);
    }

    private static void Close(float[] expected, float[] actual, double tol = 1e-4)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"[{i}] expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void Mean_pooling_equals_transformers_masked_mean_of_last_hidden_state()
    {
        var (sequences, types, means, _) = Reference();
        var together = Mean.Value.EmbedIds(sequences, types);
        for (int b = 0; b < sequences.Count; b++) Close(means[b], together[b]);
        // One at a time (no padding) gives the same embeddings.
        for (int b = 0; b < sequences.Count; b++) Close(means[b], Mean.Value.EmbedIds([sequences[b]], [types[b]])[0]);
    }

    [Fact]
    public void Normalized_cls_pooling_is_the_unit_first_hidden_state()
    {
        var (sequences, types, _, cls) = Reference();
        using var e = SentenceEmbedder.Load(Candle.Tests.Fixtures.Model("bert"), "cpu", Pooling.Cls, normalize: true);
        var got = e.EmbedIds(sequences, types);
        for (int b = 0; b < sequences.Count; b++)
        {
            double norm = Math.Sqrt(cls[b].Sum(x => (double)x * x));
            Close([.. cls[b].Select(x => (float)(x / norm))], got[b], 1e-5);
        }
    }

    [Fact]
    public void Bad_ids_and_text_without_tokenizer_are_clear_errors()
    {
        Assert.Throws<ArgumentException>(() => Mean.Value.EmbedIds([[1, 2, 100000]]));
        Assert.Throws<ArgumentException>(() => Mean.Value.EmbedIds([[]]));
        Assert.Throws<InvalidOperationException>(() => Mean.Value.Embed("no vocab.txt in this fixture"));
    }

    [Fact]
    public void Text_gets_cls_and_sep_from_the_wordpiece_vocabulary()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"bert-vocab-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            foreach (string f in Directory.GetFiles(Candle.Tests.Fixtures.Model("bert"))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
            File.WriteAllLines(Path.Combine(dir, "vocab.txt"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!"]);
            using var e = SentenceEmbedder.Load(dir, "cpu");
            Assert.Equal([2, 5, 6, 7, 3], e.Tokenize("Hello world!"));
            var v = e.Embed("Hello world!");
            Assert.Equal(e.Dimension, v.Length);
            Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 4);
            Assert.Equal(e.EmbedIds([[2, 5, 6, 7, 3]])[0], v);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
