using Candle.Compiler.Backends;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Bert;
using Candle.Transformers.Training;

namespace Candle.Transformers.Tests.Encoders;

/// <summary>
/// BERT's task heads on tiny random checkpoints: the logits against plain loops over the bare BertModel's outputs
/// (BertModel is checked against transformers elsewhere), each loss against a hand computation from those logits, and
/// every gradient element against central finite differences of the reference interpreter's float64 loss.
/// </summary>
public class BertHeadTests
{
    private const string Seq = "BertForSequenceClassification", Token = "BertForTokenClassification", Mlm = "BertForMaskedLM";

    [Fact]
    public void TheArchitectureOrTheTensorsPickTheClass()
    {
        using (var c = TinyBert.Create(1, Seq, configExtra: "\"num_labels\": 3"))
        {
            var m = Assert.IsType<BertForSequenceClassification>(ModelRegistry.Load(c.Dir));
            Assert.Equal(3, m.NumLabels);
            Assert.Null(m.ProblemType);
        }

        using (var c = TinyBert.Create(1, Seq, configExtra: "\"id2label\": {\"0\": \"neg\", \"1\": \"neu\", \"2\": \"pos\", \"3\": \"other\"}", writeArchitectures: false))
        {
            Assert.Equal(4, Assert.IsType<BertForSequenceClassification>(ModelRegistry.Load(c.Dir)).NumLabels);
        }

        using (var c = TinyBert.Create(1, Token, configExtra: "\"num_labels\": 4"))
        {
            Assert.Equal(4, Assert.IsType<BertForTokenClassification>(ModelRegistry.Load(c.Dir)).NumLabels);
        }

        using (var c = TinyBert.Create(1, Mlm, writeArchitectures: false))
        {
            Assert.IsType<BertForMaskedLM>(ModelRegistry.Load(c.Dir));
        }

        using (var c = TinyBert.Create(1, Seq, configExtra: "\"problem_type\": \"ordinal\""))
        {
            var e = Assert.Throws<InvalidDataException>(() => ModelRegistry.Load(c.Dir));
            Assert.Contains("problem_type", e.Message, StringComparison.Ordinal);
            Assert.Contains("config.json", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void AClassifierWithoutLabelsIsRefused()
    {
        using var c = TinyBert.Create(1, Token, configExtra: "\"num_labels\": 0");
        var e = Assert.Throws<InvalidDataException>(() => ModelRegistry.Load(c.Dir));
        Assert.Contains("num_labels", e.Message, StringComparison.Ordinal);
        Assert.Contains("BertForTokenClassification", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SentenceEmbedderUsesAHeadsEncoder()
    {
        using var c = TinyBert.Create(10, Mlm);
        using var embedder = Candle.Transformers.Embeddings.SentenceEmbedder.Load(c.Dir, "reference", Candle.Transformers.Embeddings.Pooling.Cls, normalize: false);
        var got = embedder.EmbedIds([[1, 5, 7]]);
        var batch = new Dictionary<string, HostTensor>(StringComparer.Ordinal)
        {
            ["input_ids"] = HostTensor.FromArray(new long[] { 1, 5, 7 }, 1, 3),
            ["attention_mask"] = HostTensor.FromArray(new long[] { 1, 1, 1 }, 1, 3),
            ["token_type_ids"] = HostTensor.FromArray(new long[3], 1, 3),
        };
        var cls = Naive.Row(Bare(c, batch).Hidden, 0);
        Assert.Equal(cls.Length, got[0].Length);
        for (int i = 0; i < cls.Length; i++) Assert.Equal(cls[i], got[0][i], 1e-5f);
    }

    [Theory]
    [InlineData("reference")]
    [InlineData("cpu")]
    public void SequenceLogitsAreTheClassifierOfThePooledOutput(string backend)
    {
        using var c = TinyBert.Create(2, Seq, layers: 2, configExtra: "\"num_labels\": 3");
        var batch = TinyBert.Batch(HostTensor.FromArray(new long[] { 0, 2 }, 2));
        var model = (BertForSequenceClassification)ModelRegistry.Load(c.Dir);
        var logits = Logits(model, batch, backend);
        Assert.Equal([2, 3], logits.ShapeArray());

        var pooled = Bare(c, batch).Pooled;
        var want = Naive.Linear(pooled, c.Get("classifier.weight"), c.Get("classifier.bias"), 3);
        AssertClose(want, logits.ToFloat64(), 1e-5);
    }

    [Theory]
    [InlineData("reference")]
    [InlineData("cpu")]
    public void TokenLogitsAreTheClassifierOfEveryState(string backend)
    {
        using var c = TinyBert.Create(3, Token, configExtra: "\"num_labels\": 4");
        var batch = TinyBert.Batch(HostTensor.FromArray(new long[10], 2, 5));
        var logits = Logits(ModelRegistry.Load(c.Dir), batch, backend);
        Assert.Equal([2, 5, 4], logits.ShapeArray());
        var want = Naive.Linear(Bare(c, batch).Hidden, c.Get("classifier.weight"), c.Get("classifier.bias"), 4);
        AssertClose(want, logits.ToFloat64(), 1e-5);
    }

    [Theory]
    [InlineData("reference")]
    [InlineData("cpu")]
    public void MaskedLmLogitsAreTheTiedDecoderOfTheTransform(string backend)
    {
        using var c = TinyBert.Create(4, Mlm);
        var batch = TinyBert.Batch(HostTensor.FromArray(new long[10], 2, 5));
        var logits = Logits(ModelRegistry.Load(c.Dir), batch, backend);
        Assert.Equal([2, 5, TinyBert.Vocab], logits.ShapeArray());
        var t = Naive.Map(Naive.Linear(Bare(c, batch).Hidden, c.Get("cls.predictions.transform.dense.weight"), c.Get("cls.predictions.transform.dense.bias"), TinyBert.Hidden), Naive.Gelu);
        t = Naive.LayerNorm(t, c.Get("cls.predictions.transform.LayerNorm.weight"), c.Get("cls.predictions.transform.LayerNorm.bias"), 1e-12);
        var want = Naive.Linear(t, c.Get("bert.embeddings.word_embeddings.weight"), c.Get("cls.predictions.bias"), TinyBert.Vocab);
        AssertClose(want, logits.ToFloat64(), 1e-5);
    }

    [Fact]
    public void UntiedMaskedLmReadsItsOwnDecoder()
    {
        using var c = TinyBert.Create(5, Mlm, configExtra: "\"tie_word_embeddings\": false");
        var decoder = c.Add("cls.predictions.decoder.weight", 0.7f, TinyBert.Vocab, TinyBert.Hidden);
        c.Write(File.ReadAllText(Path.Combine(c.Dir, "config.json")));
        var batch = TinyBert.Batch(HostTensor.FromArray(new long[10], 2, 5));
        var model = Assert.IsType<BertForMaskedLM>(ModelRegistry.Load(c.Dir));
        var logits = Logits(model, batch, "reference");
        var t = Naive.Map(Naive.Linear(Bare(c, batch).Hidden, c.Get("cls.predictions.transform.dense.weight"), c.Get("cls.predictions.transform.dense.bias"), TinyBert.Hidden), Naive.Gelu);
        t = Naive.LayerNorm(t, c.Get("cls.predictions.transform.LayerNorm.weight"), c.Get("cls.predictions.transform.LayerNorm.bias"), 1e-12);
        AssertClose(Naive.Linear(t, decoder, c.Get("cls.predictions.bias"), TinyBert.Vocab), logits.ToFloat64(), 1e-5);
    }

    public static TheoryData<string, string> Losses() => new()
    {
        { "regression", "\"num_labels\": 1" },
        { "single_label_classification", "\"num_labels\": 3" },
        { "multi_label_classification", "\"num_labels\": 3" },
        { "multi_label_classification", "\"num_labels\": 3, \"problem_type\": \"multi_label_classification\"" },
    };

    [Theory]
    [MemberData(nameof(Losses))]
    public void SequenceLossIsTheProblemTypesLossOfTheLogits(string problemType, string config)
    {
        using var c = TinyBert.Create(6, Seq, configExtra: config);
        var model = (BertForSequenceClassification)ModelRegistry.Load(c.Dir);
        var batch = TrainingObjective.Prepare(model, TinyBert.Batch(SequenceLabels(problemType, model.NumLabels)), "batch");
        Assert.Equal(problemType, model.ProblemType);
        var x = Logits(model, batch, "reference").ToFloat64();
        int n = model.NumLabels;
        double want = 0;
        switch (problemType)
        {
            case "regression":
                var y = batch["labels"].ToFloat64();
                for (int b = 0; b < 2; b++) want += (x[b] - y[b]) * (x[b] - y[b]) / 2;
                break;
            case "single_label_classification":
                // Row 1 is ignored (-100): the mean is over row 0 alone.
                want = CrossEntropy(x.AsSpan(0, n), (int)batch["labels"].GetInt64(0));
                break;
            default:
                var t = batch["labels"].ToFloat64();
                for (int i = 0; i < 2 * n; i++)
                {
                    double logSigmoid = -Math.Log(1 + Math.Exp(-x[i])), logOneMinus = -Math.Log(1 + Math.Exp(x[i]));
                    want -= ((t[i] * logSigmoid) + ((1 - t[i]) * logOneMinus)) / (2 * n);
                }

                break;
        }

        foreach (var backend in new[] { "reference", "cpu" })
        {
            var graph = TrainingObjective.Trace(model);
            double got = BackendRegistry.Get(backend).Compile(graph, CompileOptions.Default).Run(Args(graph, batch))[0].GetDouble(0);
            Assert.True(Math.Abs(want - got) <= 1e-5 * Math.Max(1, Math.Abs(want)), $"{backend}: loss {got}, hand computation {want}");
        }
    }

    [Theory]
    [InlineData(Token)]
    [InlineData(Mlm)]
    public void TokenLossIsCrossEntropyOverTheUnignoredTokens(string architecture)
    {
        using var c = TinyBert.Create(7, architecture, configExtra: "\"num_labels\": 4");
        var model = ModelRegistry.Load(c.Dir);
        long[] labels = [1, -100, 3, 0, 2, 2, 0, -100, -100, -100];
        var batch = TrainingObjective.Prepare(model, TinyBert.Batch(HostTensor.FromArray(labels, 2, 5)), "batch");
        var x = Logits(model, batch, "reference").ToFloat64();
        int classes = x.Length / 10;
        double want = 0;
        int counted = 0;
        for (int i = 0; i < 10; i++)
        {
            if (labels[i] == -100) continue;
            want += CrossEntropy(x.AsSpan(i * classes, classes), (int)labels[i]);
            counted++;
        }

        want /= counted;
        var graph = TrainingObjective.Trace(model);
        double got = BackendRegistry.Get("cpu").Compile(graph, CompileOptions.Default).Run(Args(graph, batch))[0].GetDouble(0);
        Assert.Equal(want, got, 1e-5);
    }

    public static TheoryData<string, string, string> Gradients() => new()
    {
        { Seq, "regression", "\"num_labels\": 1" },
        { Seq, "single_label_classification", "\"num_labels\": 3" },
        { Seq, "multi_label_classification", "\"num_labels\": 3" },
        { Token, "", "\"num_labels\": 3" },
        { Mlm, "", "" },
    };

    [Theory]
    [MemberData(nameof(Gradients))]
    public void EveryGradientMatchesFiniteDifferencesInFloat64(string architecture, string problemType, string config)
    {
        using var c = TinyBert.Create(8, architecture, configExtra: config);
        var model = ModelRegistry.Load(c.Dir, new ModelLoadOptions { DType = DType.F64 });
        HostTensor labels = architecture == Seq
            ? SequenceLabels(problemType, ((BertForSequenceClassification)model).NumLabels)
            : HostTensor.FromArray(new long[] { 1, -100, 2, 0, 2, 2, 0, 1, -100, -100 }, 2, 5);
        var batch = TrainingObjective.Prepare(model, TinyBert.Batch(labels), "batch");

        var lossGraph = TrainingObjective.Trace(model);
        var parameters = LanguageModelLoss.Parameters(model, lossGraph);
        Assert.All(parameters, p => Assert.Equal(DType.F64, p.Node.DType));
        var names = c.Tensors.Keys.ToHashSet(StringComparer.Ordinal);
        Assert.Equal(names.Order(StringComparer.Ordinal), parameters.Select(p => p.Name).Order(StringComparer.Ordinal));

        var reference = BackendRegistry.Get("reference");
        var gradGraph = TrainingObjective.TraceGradients(model);
        var analytic = gradGraph.OutputNames.Zip(reference.Compile(gradGraph, CompileOptions.Default).Run(Args(gradGraph, batch))).ToDictionary(p => p.First, p => p.Second.ToFloat64());

        var replace = parameters.ToDictionary(p => p.Node, p => IrBuilder.Input(p.Name, p.Node.DType, p.Node.Shape), (IEqualityComparer<Node>)ReferenceEqualityComparer.Instance);
        var rewritten = lossGraph.Rewrite(n => replace.GetValueOrDefault(n));
        var withInputs = new Graph([.. lossGraph.Inputs, .. parameters.Select(p => replace[p.Node])], rewritten.Outputs, rewritten.OutputNames);
        using var exe = reference.Compile(withInputs, CompileOptions.Default);
        var values = parameters.ToDictionary(p => p.Name, p => p.Node.Attr<ConstantAttrs>().Data.Clone(), StringComparer.Ordinal);
        HostTensor[] Arguments() => [.. withInputs.Inputs.Select(i => i.Attr<InputAttrs>().Name is var n && batch.TryGetValue(n, out var t) ? t : values[n])];

        const double h = 1e-5;
        var failures = new List<string>();
        int checkedElements = 0;
        foreach (var (name, _) in parameters)
        {
            var p = values[name];
            var g = analytic["grad." + name];
            for (int e = 0; e < g.Length; e++)
            {
                double v = p.GetDouble(e);
                p.SetDouble(e, v + h);
                double plus = exe.Run(Arguments())[0].GetDouble(0);
                p.SetDouble(e, v - h);
                double minus = exe.Run(Arguments())[0].GetDouble(0);
                p.SetDouble(e, v);
                double fd = (plus - minus) / (2 * h);
                if (Math.Abs(fd - g[e]) > 1e-6 * Math.Max(1, Math.Abs(fd))) failures.Add($"{name}[{e}]: autodiff {g[e]:G9}, finite differences {fd:G9}");
                checkedElements++;
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {checkedElements}: {string.Join("; ", failures.Take(10))}");
        Assert.Contains(analytic.Values, g => g.Any(v => v != 0));
    }

    [Fact]
    public void BadBatchesAreRefusedNamingTheTensor()
    {
        using var c = TinyBert.Create(9, Seq, configExtra: "\"num_labels\": 3, \"problem_type\": \"single_label_classification\"");
        var model = ModelRegistry.Load(c.Dir);
        void Refused(Dictionary<string, HostTensor> batch, string needle)
        {
            var e = Assert.Throws<ArgumentException>(() => TrainingObjective.Prepare(model, batch, "b.safetensors"));
            Assert.Contains("b.safetensors", e.Message, StringComparison.Ordinal);
            Assert.Contains(needle, e.Message, StringComparison.Ordinal);
        }

        var noIds = TinyBert.Batch(HostTensor.FromArray(new long[] { 0, 1 }, 2));
        noIds.Remove("input_ids");
        Refused(noIds, "'input_ids'");
        Refused(TinyBert.Batch(HostTensor.FromArray(new float[] { 0, 1 }, 2)), "'labels' must be an integer tensor");
        Refused(TinyBert.Batch(HostTensor.FromArray(new long[] { 0, 1, 2, 0 }, 2, 2)), "'labels' must be [2]");
        Refused(TinyBert.Batch(HostTensor.FromArray(new long[] { 0, 3 }, 2)), "outside [0, 3)");
        var mask = TinyBert.Batch(HostTensor.FromArray(new long[] { 0, 1 }, 2));
        mask["attention_mask"] = HostTensor.FromArray(new long[] { 1, 1, 1, 1 }, 2, 2);
        Refused(mask, "'attention_mask'");

        // The optional inputs default as transformers' do: all-ones mask, zero token types.
        var plain = TinyBert.Batch(HostTensor.FromArray(new long[] { 0, 1 }, 2));
        plain.Remove("attention_mask");
        plain.Remove("token_type_ids");
        var prepared = TrainingObjective.Prepare(model, plain, "b.safetensors");
        Assert.All(prepared["attention_mask"].ToInt64(), v => Assert.Equal(1, v));
        Assert.All(prepared["token_type_ids"].ToInt64(), v => Assert.Equal(0, v));

        using var multi = TinyBert.Create(9, Seq, configExtra: "\"num_labels\": 3, \"problem_type\": \"multi_label_classification\"");
        var e = Assert.Throws<ArgumentException>(() => TrainingObjective.Prepare(ModelRegistry.Load(multi.Dir), TinyBert.Batch(HostTensor.FromArray(new long[] { 0, 1 }, 2)), "m.safetensors"));
        Assert.Contains("'labels' must be floating-point", e.Message, StringComparison.Ordinal);
    }

    private static HostTensor SequenceLabels(string problemType, int numLabels) => problemType switch
    {
        "regression" => HostTensor.FromArray(new float[] { 0.7f, -1.3f }, 2),
        "single_label_classification" => HostTensor.FromArray(new long[] { 2, -100 }, 2),
        _ => HostTensor.FromArray(Enumerable.Range(0, 2 * numLabels).Select(i => (float)((i * 7) % 3) / 2).ToArray(), 2, numLabels),
    };

    private static double CrossEntropy(ReadOnlySpan<double> row, int label)
    {
        double max = double.NegativeInfinity;
        foreach (var v in row) max = Math.Max(max, v);
        double z = 0;
        foreach (var v in row) z += Math.Exp(v - max);
        return max + Math.Log(z) - row[label];
    }

    private static HostTensor Logits(IPretrainedModel model, Dictionary<string, HostTensor> batch, string backend)
    {
        var graph = model.TraceForward();
        Assert.Equal("logits", Assert.Single(graph.OutputNames));
        return BackendRegistry.Get(backend).Compile(graph, CompileOptions.Default).Run(Args(graph, batch))[0];
    }

    /// <summary>The bare encoder's outputs for the checkpoint's <c>bert.</c> tensors, on the reference interpreter, as [rows, hidden].</summary>
    private static (double[,] Hidden, double[,] Pooled) Bare(TinyCheckpoint c, Dictionary<string, HostTensor> batch)
    {
        using var weights = SafeTensorsCheckpoint.Open(c.Dir);
        var bert = BertModel.Load(HfConfig.Load(c.Dir), weights);
        var graph = bert.TraceForward();
        var outs = BackendRegistry.Get("reference").Compile(graph, CompileOptions.Default).Run(Args(graph, batch));
        var h = outs[0].ToFloat64();
        var hidden = new double[h.Length / TinyBert.Hidden, TinyBert.Hidden];
        for (int i = 0; i < h.Length; i++) hidden[i / TinyBert.Hidden, i % TinyBert.Hidden] = h[i];
        if (outs.Length == 1) return (hidden, new double[0, 0]);
        var p = outs[1].ToFloat64();
        var pooled = new double[p.Length / TinyBert.Hidden, TinyBert.Hidden];
        for (int i = 0; i < p.Length; i++) pooled[i / TinyBert.Hidden, i % TinyBert.Hidden] = p[i];
        return (hidden, pooled);
    }

    private static HostTensor[] Args(Graph graph, IReadOnlyDictionary<string, HostTensor> batch) =>
        [.. graph.Inputs.Select(i => batch[i.Attr<InputAttrs>().Name])];

    private static void AssertClose(double[,] want, double[] got, double tolerance)
    {
        Assert.Equal(want.Length, got.Length);
        int cols = want.GetLength(1);
        for (int i = 0; i < got.Length; i++)
        {
            double w = want[i / cols, i % cols];
            Assert.True(Math.Abs(w - got[i]) <= tolerance * Math.Max(1, Math.Abs(w)), $"element {i}: {got[i]}, expected {w}");
        }
    }
}
