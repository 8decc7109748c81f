using Candle.Compiler.Autodiff;
using Candle.Compiler.Backends;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Tests;
using Candle.Transformers.Models;
using Candle.Transformers.Training;

namespace Candle.Transformers.Tests;

/// <summary>
/// Gradient accumulation and resuming: two SGD-with-momentum steps accumulated over two half-batches land where two
/// full-batch steps land (the causal LM loss averages equally many labels per half, so the mean of the half-batch
/// gradients is the full-batch gradient; SGD keeps the comparison linear in the gradient, where Adam's normalization
/// would magnify float rounding of near-zero gradients), and a run saved after two steps and resumed in a fresh trainer continues the
/// uninterrupted run's loss curve.
/// </summary>
public class TrainerCheckpointTests
{
    private static Dictionary<string, HostTensor> Batch(string dir)
    {
        using var file = SafeTensorsFile.Open(Path.Combine(dir, "train-inputs.safetensors"));
        return file.Names.ToDictionary(n => n, n => file.Get(n).Clone(), StringComparer.Ordinal);
    }

    [Fact]
    public void AccumulatedHalfBatchesEqualTheFullBatch()
    {
        string dir = Fixtures.Model("gpt2");
        var model = ModelRegistry.Load(dir);
        var batch = TrainingObjective.Prepare(model, Batch(dir), "train-inputs.safetensors");
        using var full = new LanguageModelTrainer(model, new Sgd(1e-2, momentum: 0.9), BackendRegistry.Get("cpu"));
        using var accumulated = new LanguageModelTrainer(model, new Sgd(1e-2, momentum: 0.9), BackendRegistry.Get("cpu"));
        IReadOnlyList<IReadOnlyDictionary<string, HostTensor>> halves = [TrainingObjective.Rows(batch, 0, 1), TrainingObjective.Rows(batch, 1, 1)];
        for (int s = 0; s < 2; s++)
        {
            double a = full.Step(batch), b = accumulated.Step(halves);
            Assert.True(Math.Abs(a - b) <= 1e-5 * Math.Abs(a), $"step {s + 1}: full-batch loss {a}, accumulated {b}");
        }

        foreach (var (name, want) in full.Parameters)
        {
            var w = want.ToFloat64();
            var g = accumulated.Parameters[name].ToFloat64();
            double worst = w.Zip(g, (x, y) => Math.Abs(x - y)).Max();
            Assert.True(worst <= 1e-5 * Math.Max(1, w.Max(Math.Abs)), $"{name}: accumulated parameters differ by {worst:G3}");
        }
    }

    [Fact]
    public void ResumeContinuesTheUninterruptedCurve()
    {
        string dir = Fixtures.Model("gpt2");
        var model = ModelRegistry.Load(dir);
        var batch = TrainingObjective.Prepare(model, Batch(dir), "train-inputs.safetensors");
        var schedule = LearningRateSchedule.Linear(1, 4);
        using var straight = new LanguageModelTrainer(model, new AdamW(1e-3), BackendRegistry.Get("cpu"), schedule);
        var want = Enumerable.Range(0, 4).Select(_ => straight.Step(batch)).ToList();

        string save = Path.Combine(Path.GetTempPath(), "candle-resume-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var first = new LanguageModelTrainer(model, new AdamW(1e-3), BackendRegistry.Get("cpu"), schedule))
            {
                first.Step(batch);
                first.Step(batch);
                first.Save(save);
            }

            using var resumed = new LanguageModelTrainer(model, new AdamW(1e-3), BackendRegistry.Get("cpu"), schedule);
            resumed.Load(save);
            Assert.Equal(2, resumed.StepsDone);
            for (int s = 2; s < 4; s++)
            {
                double got = resumed.Step(batch);
                Assert.True(Math.Abs(got - want[s]) <= 1e-6 * Math.Abs(want[s]), $"step {s + 1}: resumed loss {got}, uninterrupted {want[s]}");
            }

            File.Delete(Path.Combine(save, "optimizer.safetensors"));
            var e = Assert.Throws<FileNotFoundException>(() => resumed.Load(save));
            Assert.Contains("optimizer.safetensors", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(save, true);
        }
    }
}
