using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Tests;
using Candle.Transformers.Models;
using Candle.Transformers.Training;

namespace Candle.Transformers.Tests;

/// <summary>
/// The loss and every parameter gradient of the reference causal LMs against PyTorch's (tests/fixtures/refs/*/grads*,
/// made by transformers with labels = input_ids): within 1e-4 of each gradient's largest magnitude.
/// </summary>
public class GradientTests
{
    [Theory]
    [InlineData("gpt2", "grads-sample.safetensors", "reference")]
    [InlineData("llama", "grads-sample.safetensors", "reference")]
    [InlineData("gpt2", "grads-sample.safetensors", "cpu")]
    public void LossAndGradientsMatchPyTorch(string name, string gradsFile, string backend)
    {
        string dir = Fixtures.Model(name);
        var model = ModelRegistry.Load(dir);
        var graph = LanguageModelLoss.TraceGradients(model);
        var inputs = ReadAll(Path.Combine(dir, "train-inputs.safetensors"));
        var args = graph.Inputs.Select(i => inputs[i.Attr<InputAttrs>().Name]).ToArray();
        var results = BackendRegistry.Get(backend).Compile(graph, CompileOptions.Default).Run(args);
        var got = graph.OutputNames.Zip(results).ToDictionary(p => p.First, p => p.Second);
        var want = ReadAll(Path.Combine(dir, gradsFile));

        Assert.Equal(want["loss"].GetDouble(0), got["loss"].GetDouble(0), 1e-4);
        var wantGrads = want.Keys.Where(k => k.StartsWith("grad.", StringComparison.Ordinal)).ToList();
        Assert.Equal(wantGrads.Order(), got.Keys.Where(k => k.StartsWith("grad.", StringComparison.Ordinal)).Order());
        var failures = new List<string>();
        foreach (var key in wantGrads)
        {
            var w = want[key].ToFloat64();
            var g = got[key].ToFloat64();
            double scale = want.TryGetValue("maxabs." + key, out var m) ? m.GetDouble(0) : w.Max(Math.Abs);
            Assert.True(g.Length >= w.Length, $"{key}: {g.Length} values, PyTorch has {w.Length}");
            double worst = 0;
            for (int i = 0; i < w.Length; i++) worst = Math.Max(worst, Math.Abs(w[i] - g[i]));
            if (worst > 1e-4 * scale) failures.Add($"{key}: largest difference {worst:G3}, 1e-4 of the largest magnitude is {1e-4 * scale:G3}");
        }

        Assert.True(failures.Count == 0, string.Join("; ", failures));
    }

    private static Dictionary<string, HostTensor> ReadAll(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        return file.Names.ToDictionary(n => n, n => file.Get(n).Clone());
    }
}
