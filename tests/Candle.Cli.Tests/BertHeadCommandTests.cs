using System.Text.Json;
using Candle.Compiler.Backends;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Bert;
using Candle.Transformers.Tests.Encoders;
using Candle.Transformers.Training;

namespace Candle.Cli.Tests;

/// <summary>
/// <c>candle eval</c>, <c>grad</c> and <c>train</c> on a tiny random BertForSequenceClassification checkpoint: the
/// logits against plain loops over the bare encoder's pooled output, the gradients against finite differences of the
/// float64 loss on the reference interpreter, and AdamW's first two updates against a scalar AdamW fed the gradients
/// <c>grad</c> writes at each step's parameters (SGD's against p − lr·g).
/// </summary>
public sealed class BertHeadCommandTests : IDisposable
{
    private const double Lr = 0.01, Beta1 = 0.9, Beta2 = 0.999, Eps = 1e-8, WeightDecay = 0.01;
    private readonly TinyCheckpoint _model = TinyBert.Create(21, "BertForSequenceClassification", layers: 2, configExtra: "\"num_labels\": 3");
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-bert-heads-").FullName;

    public void Dispose()
    {
        _model.Dispose();
        Directory.Delete(_tmp, recursive: true);
    }

    [Fact]
    public void EvalWritesTheClassifierLogits()
    {
        string inputs = WriteBatch(withLabels: false);
        string outputs = Path.Combine(_tmp, "out.safetensors");
        var (code, _, err) = CliRunner.Run("eval", _model.Dir, "--inputs", inputs, "--out", outputs);
        Assert.True(code == 0, err);
        using var file = SafeTensorsFile.Open(outputs);
        var logits = file.Get("logits");
        Assert.Equal([2, 3], logits.ShapeArray());
        var want = Naive.Linear(Pooled(), _model.Get("classifier.weight"), _model.Get("classifier.bias"), 3);
        var got = logits.ToFloat64();
        for (int i = 0; i < got.Length; i++) Assert.True(Math.Abs(want[i / 3, i % 3] - got[i]) <= 1e-5, $"logit {i}: {got[i]}, expected {want[i / 3, i % 3]}");
    }

    [Fact]
    public void GradWritesTheLossAndEveryParametersGradient()
    {
        string inputs = WriteBatch(withLabels: true);
        string grads = Path.Combine(_tmp, "grads.safetensors");
        var (code, _, err) = CliRunner.Run("grad", _model.Dir, "--inputs", inputs, "--out", grads);
        Assert.True(code == 0, err);
        using var file = SafeTensorsFile.Open(grads);
        Assert.Equal(_model.Tensors.Keys.Select(n => "grad." + n).Append("loss").Order(StringComparer.Ordinal), file.Names.Order(StringComparer.Ordinal));

        // The loss: cross-entropy of the eval logits (hand computation), labels [2, 0].
        var x = Naive.Linear(Pooled(), _model.Get("classifier.weight"), _model.Get("classifier.bias"), 3);
        long[] labels = [2, 0];
        double want = 0;
        for (int b = 0; b < 2; b++)
        {
            double max = Math.Max(x[b, 0], Math.Max(x[b, 1], x[b, 2]));
            want += (max + Math.Log(Math.Exp(x[b, 0] - max) + Math.Exp(x[b, 1] - max) + Math.Exp(x[b, 2] - max)) - x[b, (int)labels[b]]) / 2;
        }

        Assert.Equal(want, file.Get("loss").GetDouble(0), 1e-5);

        // Every gradient along a random ±1 direction against central differences of the float64 loss.
        var model = ModelRegistry.Load(_model.Dir, new ModelLoadOptions { DType = DType.F64 });
        var batch = TrainingObjective.Prepare(model, Batch(withLabels: true), inputs);
        var loss = TrainingObjective.Trace(model);
        var parameters = LanguageModelLoss.Parameters(model, loss);
        var replace = parameters.ToDictionary(p => p.Node, p => IrBuilder.Input(p.Name, p.Node.DType, p.Node.Shape), (IEqualityComparer<Node>)ReferenceEqualityComparer.Instance);
        var rewritten = loss.Rewrite(n => replace.GetValueOrDefault(n));
        var graph = new Graph([.. loss.Inputs, .. parameters.Select(p => replace[p.Node])], rewritten.Outputs, rewritten.OutputNames);
        using var exe = BackendRegistry.Get("reference").Compile(graph, CompileOptions.Default);
        var values = parameters.ToDictionary(p => p.Name, p => p.Node.Attr<ConstantAttrs>().Data.Clone(), StringComparer.Ordinal);
        double Loss() => exe.Run([.. graph.Inputs.Select(i => i.Attr<InputAttrs>().Name is var n && batch.TryGetValue(n, out var t) ? t : values[n])])[0].GetDouble(0);

        var rng = new Random(5);
        const double h = 1e-5;
        foreach (var (name, _) in parameters)
        {
            var p = values[name];
            double[] p0 = p.ToFloat64(), v = [.. p0.Select(_ => rng.Next(2) == 0 ? -1.0 : 1.0)], g = file.Get("grad." + name).ToFloat64();
            for (int i = 0; i < p0.Length; i++) p.SetDouble(i, p0[i] + (h * v[i]));
            double plus = Loss();
            for (int i = 0; i < p0.Length; i++) p.SetDouble(i, p0[i] - (h * v[i]));
            double minus = Loss();
            for (int i = 0; i < p0.Length; i++) p.SetDouble(i, p0[i]);
            double fd = (plus - minus) / (2 * h), analytic = g.Zip(v, (a, b) => a * b).Sum();
            Assert.True(Math.Abs(fd - analytic) <= 1e-5 + (1e-4 * Math.Abs(fd)), $"{name}: directional derivative {analytic}, finite differences {fd}");
        }
    }

    [Fact]
    public void TrainLowersTheLossWithAdamWsUpdates()
    {
        string data = WriteBatch(withLabels: true);
        string first = Path.Combine(_tmp, "step1"), second = Path.Combine(_tmp, "step2");
        var g0 = Grad(_model.Dir, data, "g0");
        var (code, _, err) = CliRunner.Run("train", _model.Dir, "--data", data, "--steps", "1", "--optimizer", "adamw", "--lr", "0.01", "--out", Path.Combine(_tmp, "l1.json"), "--save", first);
        Assert.True(code == 0, err);
        File.Copy(Path.Combine(_model.Dir, "config.json"), Path.Combine(first, "config.json"));
        var g1 = Grad(first, data, "g1");
        (code, _, err) = CliRunner.Run("train", _model.Dir, "--data", data, "--steps", "1", "--optimizer", "adamw", "--lr", "0.01", "--out", Path.Combine(_tmp, "l2.json"), "--resume", first, "--save", second);
        Assert.True(code == 0, err);

        foreach (var name in new[] { "classifier.weight", "bert.encoder.layer.1.attention.self.query.weight" })
        {
            double[] p0 = _model.Tensors[name].ToFloat64(), a = g0["grad." + name], b = g1["grad." + name];
            double[] p1 = Saved(first, name), p2 = Saved(second, name);
            for (int i = 0; i < p0.Length; i++)
            {
                // PyTorch's AdamW: decay, then the bias-corrected moment ratio.
                double m = (1 - Beta1) * a[i], v = (1 - Beta2) * a[i] * a[i];
                double want1 = (p0[i] * (1 - (Lr * WeightDecay))) - (Lr * (m / (1 - Beta1)) / (Math.Sqrt(v / (1 - Beta2)) + Eps));
                Assert.True(Math.Abs(want1 - p1[i]) <= 1e-6, $"{name}[{i}] after step 1: {p1[i]}, scalar AdamW {want1}");
                m = (Beta1 * m) + ((1 - Beta1) * b[i]);
                v = (Beta2 * v) + ((1 - Beta2) * b[i] * b[i]);
                double want2 = (p1[i] * (1 - (Lr * WeightDecay))) - (Lr * (m / (1 - (Beta1 * Beta1))) / (Math.Sqrt(v / (1 - (Beta2 * Beta2))) + Eps));
                Assert.True(Math.Abs(want2 - p2[i]) <= 1e-6, $"{name}[{i}] after step 2: {p2[i]}, scalar AdamW {want2}");
            }
        }

        string losses = Path.Combine(_tmp, "losses.json");
        (code, _, err) = CliRunner.Run("train", _model.Dir, "--data", data, "--steps", "5", "--optimizer", "adamw", "--lr", "0.01", "--out", losses);
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(File.ReadAllText(losses));
        var curve = doc.RootElement.GetProperty("adamw").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(6, curve.Length);
        using (var grads = SafeTensorsFile.Open(Path.Combine(_tmp, "g0.safetensors"))) Assert.Equal(grads.Get("loss").GetDouble(0), curve[0], 1e-5);
        Assert.True(curve[^1] < curve[0] - 0.01, $"losses {string.Join(", ", curve)}");
    }

    [Fact]
    public void TrainTakesSgdStepsOnTheGradient()
    {
        string data = WriteBatch(withLabels: true);
        string saved = Path.Combine(_tmp, "sgd");
        var g0 = Grad(_model.Dir, data, "g0");
        var (code, _, err) = CliRunner.Run("train", _model.Dir, "--data", data, "--steps", "1", "--optimizer", "sgd", "--lr", "0.5", "--out", Path.Combine(_tmp, "sgd.json"), "--save", saved);
        Assert.True(code == 0, err);
        foreach (var name in _model.Tensors.Keys)
        {
            double[] p0 = _model.Tensors[name].ToFloat64(), g = g0["grad." + name], p1 = Saved(saved, name);
            for (int i = 0; i < p0.Length; i++) Assert.True(Math.Abs(p0[i] - (0.5 * g[i]) - p1[i]) <= 1e-6, $"{name}[{i}]: {p1[i]}, p − lr·g = {p0[i] - (0.5 * g[i])}");
        }
    }

    [Fact]
    public void GradRefusesABatchWithoutLabelsNamingTheKey()
    {
        string inputs = WriteBatch(withLabels: false);
        var (code, _, err) = CliRunner.Run("grad", _model.Dir, "--inputs", inputs, "--out", Path.Combine(_tmp, "g.safetensors"));
        Assert.NotEqual(0, code);
        Assert.Contains("'labels'", err, StringComparison.Ordinal);
        Assert.Contains(inputs, err, StringComparison.Ordinal);
    }

    private static Dictionary<string, HostTensor> Batch(bool withLabels)
    {
        var batch = TinyBert.Batch(HostTensor.FromArray(new long[] { 2, 0 }, 2));
        if (!withLabels) batch.Remove("labels");
        return batch;
    }

    private string WriteBatch(bool withLabels)
    {
        string path = Path.Combine(_tmp, withLabels ? "train.safetensors" : "inputs.safetensors");
        SafeTensorsWriter.Write(path, Batch(withLabels));
        return path;
    }

    private Dictionary<string, double[]> Grad(string modelDir, string data, string name)
    {
        string path = Path.Combine(_tmp, name + ".safetensors");
        var (code, _, err) = CliRunner.Run("grad", modelDir, "--inputs", data, "--out", path);
        Assert.True(code == 0, err);
        using var file = SafeTensorsFile.Open(path);
        return file.Names.ToDictionary(n => n, n => file.Get(n).ToFloat64(), StringComparer.Ordinal);
    }

    private static double[] Saved(string dir, string name)
    {
        using var file = SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors"));
        return file.Get(name).ToFloat64();
    }

    /// <summary>The bare encoder's pooled output of the checkpoint's <c>bert.</c> tensors, on the reference interpreter.</summary>
    private double[,] Pooled()
    {
        using var weights = SafeTensorsCheckpoint.Open(_model.Dir);
        var bert = BertModel.Load(HfConfig.Load(_model.Dir), weights);
        var graph = bert.TraceForward();
        var batch = Batch(withLabels: false);
        var outs = BackendRegistry.Get("reference").Compile(graph, CompileOptions.Default).Run([.. graph.Inputs.Select(i => batch[i.Attr<InputAttrs>().Name])]);
        var p = outs[1].ToFloat64();
        var pooled = new double[2, TinyBert.Hidden];
        for (int i = 0; i < p.Length; i++) pooled[i / TinyBert.Hidden, i % TinyBert.Hidden] = p[i];
        return pooled;
    }
}
