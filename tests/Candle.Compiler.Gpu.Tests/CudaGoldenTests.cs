using System.Text.Json;
using Candle.Compiler.Backends;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Tests;
using Candle.Transformers.Generation;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// The reference models of tests/fixtures/refs (random-weight llama and gpt2, float32) through the CUDA backend: the
/// logits transformers computed, and its greedy continuation through <see cref="TextGenerator"/> (prefill and decode
/// plans with a KV cache). Skipped where no CUDA device opens.
/// </summary>
public class CudaGoldenTests
{
    [CudaTheory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void LogitsMatchTransformers(string name)
    {
        var (dir, tensors, _, _) = Load(name);
        var model = ModelRegistry.Load(dir);
        using var exe = GpuBackends.Cuda.Compile(model.TraceForward(), CompileOptions.Default);
        var logits = exe.Run([tensors["input_ids"]])[0];
        double err = MaxAbsDiff(logits, tensors["logits"]);
        Assert.True(err <= 1e-4, $"{name} on cuda: max abs error {err} against transformers' logits");
    }

    [CudaTheory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void GreedyContinuationMatchesTransformers(string name)
    {
        var (dir, _, prompt, continuation) = Load(name);
        var model = (ICausalLanguageModel)ModelRegistry.Load(dir);
        var generator = TextGenerator.Compile(model, GpuBackends.Cuda);
        var result = generator.Generate(prompt, new GenerationOptions { MaxNewTokens = continuation.Length });
        Assert.Equal(continuation, result.GeneratedIds);
    }

    private static (string Dir, Dictionary<string, HostTensor> Tensors, int[] Prompt, int[] Continuation) Load(string name)
    {
        string dir = Fixtures.Model(name);
        using var file = SafeTensorsFile.Open(Path.Combine(dir, "reference.safetensors"));
        var tensors = file.Names.ToDictionary(n => n, n => file.Get(n).Clone());
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "reference.json")));
        int[] prompt = [.. doc.RootElement.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32())];
        int[] continuation = [.. doc.RootElement.GetProperty("greedy_continuation").EnumerateArray().Select(e => e.GetInt32())];
        return (dir, tensors, prompt, continuation);
    }

    private static double MaxAbsDiff(HostTensor a, HostTensor b)
    {
        Assert.Equal(b.Shape, a.Shape);
        var x = a.ToFloat32();
        var y = b.ToFloat32();
        double m = 0;
        for (int i = 0; i < x.Length; i++) m = Math.Max(m, Math.Abs((double)x[i] - y[i]));
        return m;
    }
}
