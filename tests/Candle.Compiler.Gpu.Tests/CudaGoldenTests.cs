using System.Text.Json;
using Candle.Compiler.Backends;
using Candle.Runtime;
using Candle.Runtime.Devices;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Tests;
using Candle.Transformers.Generation;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;
using Candle.Transformers.Tests;

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
    public void LogitsMatchTransformers(string name) => CheckLogits(name, GpuBackends.Cuda);

    /// <summary>The forward pass of <paramref name="name"/> on <paramref name="backend"/> against transformers' logits.</summary>
    internal static void CheckLogits(string name, GpuBackend backend)
    {
        var (dir, tensors, _, _) = Load(name);
        var model = ModelRegistry.Load(dir);
        using var exe = backend.Compile(model.TraceForward(), CompileOptions.Default);
        var logits = exe.Run([tensors["input_ids"]])[0];
        double err = MaxAbsDiff(logits, tensors["logits"]);
        Assert.True(err <= 1e-4, $"{name} on {backend.Name}: max abs error {err} against transformers' logits");
    }

    [CudaTheory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void GreedyContinuationMatchesTransformers(string name) => CheckGreedy(name, GpuBackends.Cuda);

    /// <summary>Greedy generation (prefill, then the growing-cache decode step) of <paramref name="name"/> on <paramref name="backend"/>.</summary>
    internal static void CheckGreedy(string name, GpuBackend backend)
    {
        var (dir, _, prompt, continuation) = Load(name);
        var model = (ICausalLanguageModel)ModelRegistry.Load(dir);
        var generator = TextGenerator.Compile(model, backend);
        var result = generator.Generate(prompt, new GenerationOptions { MaxNewTokens = continuation.Length });
        Assert.Equal(continuation, result.GeneratedIds);
    }

    /// <summary>
    /// The fixed-size cache decode step recorded once as a CUDA graph and replayed for every later token reproduces
    /// transformers' greedy continuation; the cache stays on the device and only the logits come back.
    /// </summary>
    [CudaTheory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void GreedyContinuationThroughARecordedDecodeGraphMatchesTransformers(string name) => CheckStaticGreedy(name, GpuBackends.Cuda, graphs: true);

    /// <summary>
    /// Greedy generation through the fixed-size cache decode step of <paramref name="name"/> on <paramref name="backend"/>,
    /// recorded once as a CUDA graph and replayed when <paramref name="graphs"/>.
    /// </summary>
    internal static void CheckStaticGreedy(string name, GpuBackend backend, bool graphs)
    {
        var (dir, _, prompt, continuation) = Load(name);
        var model = Assert.IsAssignableFrom<CausalLanguageModel>(ModelRegistry.Load(dir));
        int capacity = prompt.Length + continuation.Length + 4;
        using var prefill = (GpuExecutable)backend.Compile(model.TracePrefill(), CompileOptions.Default);
        using var decode = (GpuExecutable)backend.Compile(model.TraceStaticDecode(capacity), CompileOptions.Default);
        decode.CaptureGraphs = graphs;
        var device = decode.Device;
        long row = (long)model.NumKvHeads * model.HeadDim * model.KvCacheDType.SizeInBytes();
        using var ids = DeviceTensor.Allocate(device, Candle.Runtime.DType.I64, 1, 1);
        using var pos = DeviceTensor.Allocate(device, Candle.Runtime.DType.I64, 1, 1);
        var buffers = new List<DeviceBuffer>();
        try
        {
            using var promptIds = DeviceTensor.Upload(HostTensor.FromArray([.. prompt.Select(t => (long)t)], 1, prompt.Length), device);
            var outs = prefill.RunOnDevice([promptIds]);
            var inputs = new DeviceTensor[decode.InputNames.Count];
            for (int i = 0; i < inputs.Length; i++)
            {
                string n = decode.InputNames[i];
                if (n == DecoderGraphNames.InputIds) inputs[i] = ids;
                else if (n == DecoderGraphNames.PositionIds) inputs[i] = pos;
                else
                {
                    var buf = device.Allocate(row * capacity);
                    buffers.Add(buf);
                    var fresh = outs[prefill.OutputNames.ToList().IndexOf(n.Replace("cache_", "new_", StringComparison.Ordinal))].Buffer;
                    device.Copy(fresh, 0, buf, 0, fresh.Bytes);
                    inputs[i] = DeviceTensor.View(buf, model.KvCacheDType, capacity, 1, model.NumKvHeads, model.HeadDim);
                }
            }

            var got = new List<int> { GreedyLogits.ArgMaxLast(outs[prefill.OutputNames.ToList().IndexOf(DecoderGraphNames.Logits)].Download()) };
            foreach (var o in outs) o.Dispose();
            for (int p = prompt.Length; got.Count < continuation.Length; p++)
            {
                device.CopyFromHost(BitConverter.GetBytes((long)got[^1]), ids.Buffer, 0);
                device.CopyFromHost(BitConverter.GetBytes((long)p), pos.Buffer, 0);
                var step = decode.RunOnDevice(inputs);
                got.Add(GreedyLogits.ArgMaxLast(step[decode.OutputNames.ToList().IndexOf(DecoderGraphNames.Logits)].Download()));
            }

            if (graphs)
            {
                Assert.Null(decode.GraphStatus);
                Assert.Equal(1, decode.GraphCaptures);
                // Recorded at the first repeated binding: the second run, or the third when the first grew the step's
                // workspace (its size is part of the binding); every run after the recording replays it.
                Assert.InRange(decode.GraphReplays, continuation.Length - 3, continuation.Length - 2);
            }

            Assert.Equal(continuation, got);
        }
        finally
        {
            foreach (var b in buffers) b.Dispose();
        }
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
