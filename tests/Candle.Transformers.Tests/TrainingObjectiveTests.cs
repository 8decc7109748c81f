using Candle.Compiler.Autodiff;
using Candle.Compiler.Backends;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Tests;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Vit;
using Candle.Transformers.Training;

namespace Candle.Transformers.Tests;

/// <summary>
/// The training losses of the non-causal families (ViT image classification, Whisper's seq2seq LM loss), whose
/// references have no PyTorch gradients: the loss against a hand computation of cross-entropy over the forward
/// logits, and the CPU backend's gradient of every parameter against central finite differences of the reference
/// interpreter's loss along a random direction.
/// </summary>
public class TrainingObjectiveTests
{
    private static VitForImageClassification TinyVit() =>
        new(new VitConfig { HiddenSize = 16, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 24, ImageSize = 8, PatchSize = 4, NumChannels = 3, NumLabels = 5 });

    private static Dictionary<string, HostTensor> VitBatch()
    {
        var rng = new Random(3);
        var px = new float[2 * 3 * 8 * 8];
        for (int i = 0; i < px.Length; i++) px[i] = (float)((rng.NextDouble() * 2) - 1);
        return new(StringComparer.Ordinal) { ["pixel_values"] = HostTensor.FromArray(px, 2, 3, 8, 8), ["labels"] = HostTensor.FromArray(new long[] { 3, 1 }, 2) };
    }

    [Fact]
    public void VitLossIsCrossEntropyOfTheLogits()
    {
        var model = TinyVit();
        var batch = VitBatch();
        var logits = BackendRegistry.Get("reference").Compile(model.TraceForward(), CompileOptions.Default).Run([batch["pixel_values"]])[0].ToFloat64();
        double want = 0;
        long[] labels = [3, 1];
        for (int b = 0; b < 2; b++)
        {
            var row = logits.AsSpan(b * 5, 5);
            double max = row.ToArray().Max();
            double lse = max + Math.Log(row.ToArray().Sum(v => Math.Exp(v - max)));
            want += (lse - row[(int)labels[b]]) / 2;
        }

        var loss = TrainingObjective.Trace(model);
        var got = BackendRegistry.Get("cpu").Compile(loss, CompileOptions.Default).Run([batch["pixel_values"], batch["labels"]])[0].GetDouble(0);
        Assert.Equal(want, got, 1e-5);
    }

    [Fact]
    public void VitGradientsMatchFiniteDifferences() => CheckAgainstFiniteDifferences(TinyVit(), VitBatch());

    [Fact]
    public void WhisperGradientsMatchFiniteDifferences()
    {
        var model = ModelRegistry.Load(Fixtures.Model("whisper"));
        var features = Candle.Runtime.Weights.SafeTensors.SafeTensorsFile.Open(Path.Combine(Fixtures.Model("whisper"), "reference.safetensors"));
        var batch = TrainingObjective.Prepare(model, new Dictionary<string, HostTensor>
        {
            ["input_features"] = features.Get("input_features").Clone(),
            ["labels"] = HostTensor.FromArray(new long[] { 5, 17, -100, 9 }, 1, 4),
        }, "test batch");
        features.Dispose();

        // transformers' shift_tokens_right: start token, then the labels but the last, -100 as pad.
        var whisper = (Models.Whisper.WhisperForConditionalGeneration)model;
        Assert.Equal(new long[] { whisper.Settings.DecoderStartTokenId, 5, 17, whisper.Settings.PadTokenId }, batch["decoder_input_ids"].ToInt64());
        CheckAgainstFiniteDifferences(model, batch, maxParameters: 12);
    }

    [Fact]
    public void ModelsWithoutALossAreRefusedByName()
    {
        var bert = ModelRegistry.Load(Fixtures.Model("bert"));
        var e = Assert.Throws<NotSupportedException>(() => TrainingObjective.Trace(bert));
        Assert.Contains("bert", e.Message, StringComparison.Ordinal);
        var vitBatch = VitBatch();
        vitBatch.Remove("pixel_values");
        var m = Assert.Throws<ArgumentException>(() => TrainingObjective.Prepare(TinyVit(), vitBatch, "x.safetensors"));
        Assert.Contains("'pixel_values'", m.Message, StringComparison.Ordinal);
    }

    private static void CheckAgainstFiniteDifferences(IPretrainedModel model, Dictionary<string, HostTensor> batch, int maxParameters = int.MaxValue)
    {
        var lossGraph = TrainingObjective.Trace(model);
        var parameters = LanguageModelLoss.Parameters(model, lossGraph);
        var gradGraph = TrainingObjective.TraceGradients(model);
        var results = BackendRegistry.Get("cpu").Compile(gradGraph, CompileOptions.Default).Run([.. gradGraph.Inputs.Select(i => batch[i.Attr<InputAttrs>().Name])]);
        var grads = gradGraph.OutputNames.Zip(results).ToDictionary(p => p.First, p => p.Second.ToFloat64());

        var replace = parameters.ToDictionary(p => p.Node, p => IrBuilder.Input(p.Name, p.Node.DType, p.Node.Shape), (IEqualityComparer<Node>)ReferenceEqualityComparer.Instance);
        var rewritten = lossGraph.Rewrite(n => replace.GetValueOrDefault(n));
        var withInputs = new Graph([.. lossGraph.Inputs, .. parameters.Select(p => replace[p.Node])], rewritten.Outputs, rewritten.OutputNames);
        using var exe = BackendRegistry.Get("reference").Compile(withInputs, CompileOptions.Default);
        var values = parameters.ToDictionary(p => p.Name, p => p.Node.Attr<ConstantAttrs>().Data.Clone());
        double Loss(string name, HostTensor value) => exe.Run([.. withInputs.Inputs.Select(i => i.Attr<InputAttrs>().Name is var n && n == name ? value : batch.TryGetValue(n, out var t) ? t : values[n])])[0].GetDouble(0);

        var rng = new Random(11);
        var failures = new List<string>();
        var chosen = parameters.OrderBy(_ => rng.Next()).Take(maxParameters).ToList();
        foreach (var (name, _) in chosen)
        {
            var p = values[name].ToFloat64();
            var v = p.Select(_ => rng.Next(2) == 0 ? -1.0 : 1.0).ToArray();
            const double eps = 1e-3;
            var plus = HostTensor.FromDoubles(DType.F32, p.Zip(v, (a, b) => a + (eps * b)).ToArray(), values[name].ShapeArray());
            var minus = HostTensor.FromDoubles(DType.F32, p.Zip(v, (a, b) => a - (eps * b)).ToArray(), values[name].ShapeArray());
            double fd = (Loss(name, plus) - Loss(name, minus)) / (2 * eps);
            double analytic = grads["grad." + name].Zip(v, (a, b) => a * b).Sum();
            if (Math.Abs(fd - analytic) > 2e-3 + (2e-2 * Math.Abs(analytic))) failures.Add($"{name}: directional derivative {analytic:G6}, finite differences {fd:G6}");
        }

        Assert.True(failures.Count == 0, string.Join("; ", failures));
        Assert.Equal(parameters.Select(p => "grad." + p.Name).Order(), grads.Keys.Where(k => k.StartsWith("grad.", StringComparison.Ordinal)).Order());
    }
}
