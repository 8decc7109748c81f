using Candle.Runtime.Weights;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Tests;
using Candle.Transformers.Models;

namespace Candle.Transformers.Tests;

/// <summary>
/// <see cref="ModelLoadOptions.Progress"/> reports each checkpoint tensor once as the model reads it, with running
/// totals that end at the checkpoint's own counts (read independently from the file's header).
/// </summary>
public class LoadProgressTests
{
    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void Loading_reports_every_tensor_once_and_ends_at_the_checkpoints_totals(string name)
    {
        string dir = Fixtures.Model(name);
        using var checkpoint = SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors"));
        long bytes = checkpoint.Names.Sum(n => checkpoint.GetInfo(n).Length);
        var reports = new List<LoadProgress>();
        ModelRegistry.Load(dir, new ModelLoadOptions { Progress = new Collect(reports) });

        Assert.NotEmpty(reports);
        Assert.Equal(reports.Count, reports.Select(r => r.Item).Distinct().Count());
        Assert.Equal(Enumerable.Range(1, reports.Count), reports.Select(r => r.ItemsDone));
        Assert.All(reports, r => Assert.Equal((checkpoint.Names.Count, bytes), (r.ItemsTotal, r.BytesTotal)));
        Assert.Equal(checkpoint.Names.Order(StringComparer.Ordinal), reports.Select(r => r.Item).Order(StringComparer.Ordinal));
        Assert.Equal(bytes, reports[^1].BytesDone);
        Assert.True(reports.Zip(reports.Skip(1)).All(p => p.First.BytesDone < p.Second.BytesDone), "bytes read must grow");
    }

    /// <summary>Collects reports on the reporting thread (<see cref="Progress{T}"/> would post them elsewhere).</summary>
    private sealed class Collect(List<LoadProgress> into) : IProgress<LoadProgress>
    {
        public void Report(LoadProgress value) => into.Add(value);
    }
}
