using System.Text.Json;
using Candle.Compiler.Autodiff;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Tests;
using Candle.Transformers.Models;
using Candle.Transformers.Training;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// Compiled train steps on a CUDA device (forward, backward, optimizer) reproduce PyTorch's loss curves of the
/// reference models (train.json: the loss before each step, then after the last), as the CPU does.
/// </summary>
public class TrainingTests
{
    [CudaTheory]
    [InlineData("gpt2", "adamw")]
    [InlineData("gpt2", "sgd")]
    [InlineData("llama", "adamw")]
    [InlineData("llama", "sgd")]
    public void LossCurveMatchesPyTorchOnCuda(string name, string optimizer)
    {
        string dir = Fixtures.Model(name);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "train.json")));
        double[] want = [.. doc.RootElement.GetProperty(optimizer).EnumerateArray().Select(e => e.GetDouble())];
        Optimizer opt = optimizer == "adamw" ? new AdamW(1e-3, 0.9, 0.999, 1e-8, 0.01) : new Sgd(1e-2, momentum: 0.9);
        using var file = SafeTensorsFile.Open(Path.Combine(dir, "train-inputs.safetensors"));
        var ids = file.Get("input_ids").Clone();
        var labels = file.Get("labels").Clone();
        using var trainer = new LanguageModelTrainer(ModelRegistry.Load(dir), opt, GpuBackends.Cuda);
        var got = new List<double>();
        for (int s = 0; s < want.Length - 1; s++) got.Add(trainer.Step(ids, labels));
        got.Add(trainer.Loss(ids, labels));
        for (int s = 0; s < want.Length; s++)
        {
            Assert.True(Math.Abs(got[s] - want[s]) <= 1e-4 * Math.Abs(want[s]), $"step {s}: loss {got[s]}, PyTorch {want[s]} (all: {string.Join(", ", got)})");
        }
    }
}
