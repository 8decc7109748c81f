using System.Text.Json;
using Candle.Compiler.Autodiff;
using Candle.Compiler.Backends;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Transformers.Models;
using Candle.Transformers.Training;

namespace Candle.Tests;

/// <summary>
/// Ten compiled train steps of a reference model on its reference batch against PyTorch's loss curve (train.json: the
/// loss before each step, then after the last) for AdamW(lr=1e-3, wd=0.01) or SGD(lr=1e-2, momentum=0.9), to 1e-4
/// relative per step, on any backend (shared by the CPU and the CUDA tests).
/// </summary>
internal static class LossCurves
{
    public static void Check(string name, string optimizer, IBackend backend)
    {
        string dir = Fixtures.Model(name);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "train.json")));
        double[] want = [.. doc.RootElement.GetProperty(optimizer).EnumerateArray().Select(e => e.GetDouble())];
        Optimizer opt = optimizer == "adamw" ? new AdamW(1e-3, 0.9, 0.999, 1e-8, 0.01) : new Sgd(1e-2, momentum: 0.9);
        using var file = SafeTensorsFile.Open(Path.Combine(dir, "train-inputs.safetensors"));
        var ids = file.Get("input_ids").Clone();
        var labels = file.Get("labels").Clone();
        using var trainer = new LanguageModelTrainer(ModelRegistry.Load(dir), opt, backend);
        var got = new List<double>();
        for (int s = 0; s < want.Length - 1; s++) got.Add(trainer.Step(ids, labels));
        got.Add(trainer.Loss(ids, labels));
        for (int s = 0; s < want.Length; s++)
        {
            Assert.True(Math.Abs(got[s] - want[s]) <= 1e-4 * Math.Abs(want[s]), $"step {s}: loss {got[s]}, PyTorch {want[s]} (all: {string.Join(", ", got)})");
        }
    }
}
