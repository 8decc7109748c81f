using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Candle.Compiler;
using Candle.Compiler.Backends;
using Candle.Compiler.Gpu;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Devices;
using Candle.Runtime.Tensors;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Perf.Gpu;

/// <summary>
/// GPU benchmarks of the CUDA backend, printed as a table: <c>kernels [FILTER]</c> (only the benchmarks whose label contains FILTER; the fused elementwise chain, rmsnorm,
/// softmax, matrix products), <c>bandwidth [ROUNDS] [FILTER]</c> (the row kernels and the elementwise chain, each
/// compiled once with the default kernels and once under each bandwidth switch, the variants timed in turn for ROUNDS
/// rounds), <c>check-decode REFDIR</c> (greedy decoding with a resident KV cache against the
/// reference model's continuation), <c>decode DIR f32|f16|bf16 [prompt] [tokens]</c> (decode tokens/s of a checkpoint;
/// greedy with the token chosen on the device and only it copied back, or with the logits row copied back and the
/// argmax taken on the host when <c>CANDLE_GREEDY_ON_HOST=1</c>, as for check-decode),
/// <c>decode-gguf FILE [prompt] [tokens] [graph]</c> (the same for a GGUF file, its Q8_0/Q4_0/Q4_K weights kept
/// quantized on the device), <c>write-tinyllama DIR LAYERS VOCAB [f32|bf16|f16]</c> and
/// <c>write-tinyllama-gguf FILE LAYERS VOCAB [q4_0|q8_0|q4_k|...]</c> (the same shape, every matrix of one ggml type). Each figure is the median wall time of a plan's
/// RunOnDevice followed by a device synchronization, so it includes the executor's own per-call work.
/// </summary>
public static class Program
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Main(string[] args)
    {
        switch (args)
        {
            case ["kernels", .. var only] when only.Length <= 1:
                KernelFilter = only.FirstOrDefault() ?? "";
                Kernels();
                return 0;
            case ["bandwidth", .. var opts] when opts.Length <= 2:
                KernelFilter = opts.Length > 1 ? opts[1] : "";
                Bandwidth(opts.Length > 0 ? int.Parse(opts[0], Inv) : 2);
                return 0;
            case ["check-decode", var dir, .. var rest]:
                return CheckDecode(dir, rest.Contains("graph"), rest.FirstOrDefault(r => r != "graph") ?? "cuda");
            case ["decode", var dir, var dtype, .. var rest]:
                Decode(dir, new ModelLoadOptions { DType = dtype == "f16" ? DType.F16 : dtype == "bf16" ? DType.BF16 : DType.F32 }, rest.Length > 0 ? int.Parse(rest[0], Inv) : 128, rest.Length > 1 ? int.Parse(rest[1], Inv) : 256, rest.Length > 2 && rest[2] == "graph");
                return 0;
            case ["decode-gguf", var file, .. var rest]:
                Decode(file, null, rest.Length > 0 ? int.Parse(rest[0], Inv) : 128, rest.Length > 1 ? int.Parse(rest[1], Inv) : 256, rest.Length > 2 && rest[2] == "graph");
                return 0;
            case ["write-tinyllama-gguf", var file, var layers, var vocab, .. var rest] when rest.Length <= 1:
                var type = rest is [var t] ? Enum.Parse<Runtime.Kernels.Quant.GgmlType>(t, ignoreCase: true) : Runtime.Kernels.Quant.GgmlType.Q4_0;
                var swq = Stopwatch.StartNew();
                LlamaLayer.TinyLlamaCheckpoint.WriteGguf(file, int.Parse(layers, Inv), int.Parse(vocab, Inv), type, VocabSource());
                Console.WriteLine($"wrote {file} ({type}) in {swq.Elapsed.TotalSeconds:F1} s");
                return 0;
            case ["host", var dir, var spec, .. var rest]:
                Host(dir, spec, rest.Length > 0 ? int.Parse(rest[0], Inv) : 32, rest.Length > 1 ? Enum.Parse<DType>(rest[1], ignoreCase: true) : null);
                return 0;
            case ["calls", var dir, .. var rest]:
                Calls(dir, rest.Length > 0 ? Enum.Parse<DType>(rest[0], ignoreCase: true) : null);
                return 0;
            case ["write-tinyllama", var dir, var layers, var vocab, .. var rest]:
                var dt = rest is ["f16"] ? DType.F16 : rest is ["bf16"] ? DType.BF16 : DType.F32;
                var sw = Stopwatch.StartNew();
                LlamaLayer.TinyLlamaCheckpoint.Write(dir, int.Parse(layers, Inv), int.Parse(vocab, Inv), dtype: dt);
                Console.WriteLine($"wrote {dir} in {sw.Elapsed.TotalSeconds:F1} s");
                return 0;
            default:
                Console.Error.WriteLine("usage: kernels [FILTER] | bandwidth [ROUNDS] [FILTER] | check-decode REFDIR [graph] [cuda|opencl|ilgpu-cpu] | decode DIR f32|f16|bf16 [prompt] [tokens] [graph] | decode-gguf FILE [prompt] [tokens] [graph] | host DIR SPEC [tokens] [f32|f16|bf16] | calls DIR [f32|f16|bf16] | write-tinyllama DIR LAYERS VOCAB [f32|bf16|f16] | write-tinyllama-gguf FILE LAYERS VOCAB [q4_0|q8_0|q4_k|...]");
                return 2;
        }
    }

    private static void Kernels()
    {
        var dev = GpuBackend.GetDevice("cuda:0");
        Console.WriteLine($"device: {dev}");
        Console.WriteLine("| benchmark | ms | figure |");
        Console.WriteLine("| --- | ---: | ---: |");
        const int N = 64 * 1024 * 1024;
        foreach (var dt in new[] { DType.F32, DType.BF16 })
        {
            var x = Input("x", dt, Shape.Of(N));
            var w = Input("w", dt, Shape.Of(N));
            var b = Input("b", dt, Shape.Of(N));
            var g = new Graph([x, w, b], [Binary(Op.Mul, Unary(Op.Gelu, Binary(Op.Add, Binary(Op.Mul, x, w), b)), Unary(Op.Sigmoid, x))]);
            AB($"elementwise gelu(x*w+b)*sigmoid(x) 64M {dt.TorchName()}", g, dev, 4.0 * dt.SizeInBytes() * N, "CANDLE_GPU_EW_GENERAL", "general kernel");
            AB($"elementwise gelu(x*w+b)*sigmoid(x) 64M {dt.TorchName()}", g, dev, 4.0 * dt.SizeInBytes() * N, "CANDLE_GPU_EW_NO_UNROLL", "one block a step");
            AB($"elementwise gelu(x*w+b)*sigmoid(x) 64M {dt.TorchName()}", g, dev, 4.0 * dt.SizeInBytes() * N, PreviousVectorized, "previous vectorized kernel");
            AB($"elementwise gelu(x*w+b)*sigmoid(x) 64M {dt.TorchName()}", g, dev, 4.0 * dt.SizeInBytes() * N, "CANDLE_GPU_VECTOR_UNROLL=4", "unrolled by 4 over the resident threads");
        }

        {
            var x = Input("x", DType.F16, Shape.Of(N));
            var w = Input("w", DType.F16, Shape.Of(N));
            var b = Input("b", DType.F16, Shape.Of(N));
            var g = new Graph([x, w, b], [Binary(Op.Mul, Unary(Op.Gelu, Binary(Op.Add, Binary(Op.Mul, x, w), b)), Unary(Op.Sigmoid, x))]);
            AB("elementwise gelu(x*w+b)*sigmoid(x) 64M f16", g, dev, 4.0 * 2 * N, "CANDLE_GPU_SOFT_HALF", "integer f16 conversion");
            AB("elementwise gelu(x*w+b)*sigmoid(x) 64M f16", g, dev, 4.0 * 2 * N, PreviousVectorized, "previous vectorized kernel");
        }

        const int R = 32768, C = 4096;
        {
            var a = Input("a", DType.F32, Shape.Of(R, C));
            var bias = Input("bias", DType.F32, Shape.Of(C));
            AB("elementwise silu(a+bias[4096]) 32768x4096 f32", new Graph([a, bias], [Unary(Op.Silu, Binary(Op.Add, a, bias))]), dev, 2.0 * R * C * 4, "CANDLE_GPU_EW_GENERAL", "general kernel");
        }

        {
            var a = Input("a", DType.F32, Shape.Of(R, C));
            var gamma = Input("g", DType.F32, Shape.Of(C));
            AB("rmsnorm 32768x4096 f32", new Graph([a, gamma], [RmsNorm(a, gamma, 1e-5)]), dev, 2.0 * R * C * 4, "CANDLE_GPU_ROWS_SCALAR", "scalar row kernel");
            AB("rmsnorm 32768x4096 f32", new Graph([a, gamma], [RmsNorm(a, gamma, 1e-5)]), dev, 2.0 * R * C * 4, "CANDLE_GPU_ROWS_CACHED", "shared-memory octet kernel");
            AB("softmax 32768x4096 f32", new Graph([a], [Softmax(a, 1)]), dev, 2.0 * R * C * 4, "CANDLE_GPU_ROWS_SCALAR", "scalar row kernel");
            AB("softmax 32768x4096 f32", new Graph([a], [Softmax(a, 1)]), dev, 2.0 * R * C * 4, "CANDLE_GPU_ROWS_CACHED", "shared-memory octet kernel");
            AB("rmsnorm 32768x4096 f32", new Graph([a, gamma], [RmsNorm(a, gamma, 1e-5)]), dev, 2.0 * R * C * 4, "CANDLE_GPU_ROWS_PIPELINED", "pipelined persistent row kernel");
            AB("softmax 32768x4096 f32", new Graph([a], [Softmax(a, 1)]), dev, 2.0 * R * C * 4, "CANDLE_GPU_ROWS_PIPELINED", "pipelined persistent row kernel");
        }

        {
            var a = Input("a", DType.F16, Shape.Of(R, C));
            var gamma = Input("g", DType.F16, Shape.Of(C));
            AB("rmsnorm 32768x4096 f16", new Graph([a, gamma], [RmsNorm(a, gamma, 1e-5)]), dev, 2.0 * R * C * 2, "CANDLE_GPU_ROWS_CACHED,CANDLE_GPU_SOFT_HALF", "previous octet kernel");
        }

        foreach (var (dt, m) in new[] { (DType.F32, 4096), (DType.F16, 8192), (DType.BF16, 8192) })
        {
            if (!$"matmul {m}^3 {dt.TorchName()}".Contains(KernelFilter, StringComparison.Ordinal)) continue;
            var a = Input("a", dt, Shape.Of(m, m));
            var b = Input("b", dt, Shape.Of(m, m));
            double t = Time(new Graph([a, b], [MatMul(a, b)]), dev, 5);
            Row($"matmul {m}^3 {dt.TorchName()}", t, $"{2.0 * m * m * m / t / 1e12:F1} TFLOP/s");
        }
    }

    /// <summary>
    /// The bandwidth switches against the default kernels: the flat elementwise kernel unrolled by N blocks a step over
    /// the device's resident threads (<c>CANDLE_GPU_VECTOR_UNROLL=N</c>) on a copy-like negation (the ceiling of a
    /// two-stream kernel) and on the fused chain gelu(x*w+b)*sigmoid(x), and the persistent pipelined row kernels
    /// (<c>CANDLE_GPU_ROWS_PIPELINED=1</c>) on rms_norm (with and without weight, with a residual: the norm then read by a scaling, so the add folds into it), softmax and log_softmax over
    /// 32768×4096. Every variant of a benchmark is compiled once (the switches are read when a plan is compiled) over
    /// the same uploaded inputs, then the variants are timed in turn, <paramref name="rounds"/> rounds; each line gives
    /// the median of the rounds' figures (<see cref="Time(GpuExecutable, DeviceTensor[], GpuDevice, int)"/>) in GB/s of
    /// the bytes the benchmark must move and the ratio to the default's.
    /// </summary>
    private static void Bandwidth(int rounds)
    {
        var dev = GpuBackend.GetDevice("cuda:0");
        Console.WriteLine($"device: {dev}, {rounds} rounds");
        Console.WriteLine("| benchmark | ms | figure |");
        Console.WriteLine("| --- | ---: | ---: |");
        const int N = 64 * 1024 * 1024;
        string[] unrolls = ["CANDLE_GPU_VECTOR_UNROLL=2", "CANDLE_GPU_VECTOR_UNROLL=4", "CANDLE_GPU_VECTOR_UNROLL=8"];
        {
            var x = Input("x", DType.F32, Shape.Of(N));
            Compare("elementwise -x 64M f32 (a copy's traffic)", new Graph([x], [Unary(Op.Neg, x)]), dev, 2.0 * 4 * N, rounds, unrolls);
        }

        foreach (var dt in new[] { DType.F32, DType.BF16 })
        {
            var x = Input("x", dt, Shape.Of(N));
            var w = Input("w", dt, Shape.Of(N));
            var b = Input("b", dt, Shape.Of(N));
            var g = new Graph([x, w, b], [Binary(Op.Mul, Unary(Op.Gelu, Binary(Op.Add, Binary(Op.Mul, x, w), b)), Unary(Op.Sigmoid, x))]);
            Compare($"elementwise gelu(x*w+b)*sigmoid(x) 64M {dt.TorchName()}", g, dev, 4.0 * dt.SizeInBytes() * N, rounds, unrolls);
        }

        const int R = 32768, C = 4096;
        string[] pipelined = ["CANDLE_GPU_ROWS_PIPELINED=1"];
        foreach (var dt in new[] { DType.F32, DType.BF16, DType.F16 })
        {
            double rowBytes = 2.0 * R * C * dt.SizeInBytes();
            var a = Input("a", dt, Shape.Of(R, C));
            var gamma = Input("g", dt, Shape.Of(C));
            Compare($"rmsnorm 32768x4096 {dt.TorchName()}", new Graph([a, gamma], [RmsNorm(a, gamma, 1e-5)]), dev, rowBytes, rounds, pipelined);
            Compare($"softmax 32768x4096 {dt.TorchName()}", new Graph([a], [Softmax(a, 1)]), dev, rowBytes, rounds, pipelined);
            if (dt != DType.F32) continue;
            Compare($"rmsnorm without weight 32768x4096 {dt.TorchName()}", new Graph([a], [RmsNorm(a, null, 1e-5)]), dev, rowBytes, rounds, pipelined);
            Compare($"log_softmax 32768x4096 {dt.TorchName()}", new Graph([a], [LogSoftmax(a, 1)]), dev, rowBytes, rounds, pipelined);
            var res = Input("res", dt, Shape.Of(R, C));
            var sum = Binary(Op.Add, a, res);

            // The norm read by a scaling (a norm that is itself a graph output keeps its add apart): x and res read, the
            // sum and the norm written by the residual form, then the norm read and its double written.
            Compare($"residual rmsnorm, then its norm*2 (6 streams) 32768x4096 {dt.TorchName()}", new Graph([a, res, gamma], [sum, Binary(Op.Mul, RmsNorm(sum, gamma, 1e-5), 2.0)]), dev, 3 * rowBytes, rounds, pipelined);
        }
    }

    /// <summary>
    /// Times <paramref name="g"/> compiled with the default kernels and once under each of <paramref name="variants"/>
    /// (<c>NAME=VALUE</c>, set only while that plan compiles) over one set of uploaded inputs, the plans in turn for
    /// <paramref name="rounds"/> rounds, and prints each plan's median in GB/s of <paramref name="bytes"/> and its ratio
    /// to the default's. Benchmarks whose label lacks the filter are skipped.
    /// </summary>
    private static void Compare(string label, Graph g, GpuDevice dev, double bytes, int rounds, string[] variants)
    {
        if (!label.Contains(KernelFilter, StringComparison.Ordinal)) return;
        string[] names = ["default", .. variants];
        var exes = new List<GpuExecutable>();
        var inputs = g.Inputs.Select((i, k) => UploadParallel(k + 1, i.DType, [.. i.Shape.Select(d => (int)d.Value)], dev)).ToArray();
        try
        {
            foreach (string v in names)
            {
                var (name, value) = v == "default" ? ("", "") : (v[..v.IndexOf('=', StringComparison.Ordinal)], v[(v.IndexOf('=', StringComparison.Ordinal) + 1)..]);
                if (name.Length > 0) Environment.SetEnvironmentVariable(name, value);
                try
                {
                    exes.Add((GpuExecutable)CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.Cuda }));
                }
                finally
                {
                    if (name.Length > 0) Environment.SetEnvironmentVariable(name, null);
                }
            }

            var times = names.Select(_ => new List<double>()).ToArray();
            for (int round = 0; round < rounds; round++)
            {
                for (int k = 0; k < exes.Count; k++) times[k].Add(Time(exes[k], inputs, dev, 7));
            }

            double Median(List<double> t) => t.Order().ElementAt(t.Count / 2);
            double baseline = Median(times[0]);
            for (int k = 0; k < names.Length; k++)
            {
                double t = Median(times[k]);
                string figure = k == 0 ? $"{bytes / t / 1e9:F0} GB/s" : $"{bytes / t / 1e9:F0} GB/s (default {baseline / t:F2}x)";
                Row(k == 0 ? label : $"{label} ({names[k]})", t, figure);
            }
        }
        finally
        {
            foreach (var e in exes) e.Dispose();
            foreach (var i in inputs) i.Dispose();
        }
    }

    /// <summary>Uniform values in [-2, 2) filled by parallel chunks (each seeded from <paramref name="seed"/> and its index), uploaded in <paramref name="dt"/>.</summary>
    private static DeviceTensor UploadParallel(int seed, DType dt, int[] shape, IDevice dev)
    {
        long n = shape.Aggregate(1L, (a, d) => a * d);
        var f = new float[n];
        const long Chunk = 1 << 20;
        Parallel.For(0, (n + Chunk - 1) / Chunk, c =>
        {
            var rng = new Random((seed * 7919) + (int)c);
            long end = Math.Min(n, (c + 1) * Chunk);
            for (long i = c * Chunk; i < end; i++) f[i] = (float)((rng.NextDouble() * 4) - 2);
        });
        var t = HostTensor.FromArray(f, shape);
        if (dt != DType.F32) t = t.Cast(dt);
        return DeviceTensor.Upload(t, dev);
    }

    /// <summary>The part of a benchmark's label that <c>kernels FILTER</c> keeps (every benchmark when empty).</summary>
    private static string KernelFilter { get; set; } = "";

    /// <summary>The switches that together give the vectorized elementwise kernel as it was before unrolling, group sizing and the hardware f16 widening.</summary>
    private const string PreviousVectorized = "CANDLE_GPU_EW_NO_UNROLL,CANDLE_GPU_EW_AUTOGROUP,CANDLE_GPU_SOFT_HALF";

    /// <summary>
    /// Times a graph with the default kernels and with each of the comma-separated <paramref name="variable"/>s =1, or
    /// at the value it gives as <c>NAME=VALUE</c> (the kernel it names instead:
    /// <c>CANDLE_GPU_EW_GENERAL</c>, the general elementwise kernel; <c>CANDLE_GPU_ROWS_SCALAR</c>, the scalar row
    /// kernels; <c>CANDLE_GPU_ROWS_CACHED</c>, the shared-memory octet row kernels; …), alternating three times, and prints both medians in GB/s of <paramref name="bytes"/> moved and their
    /// ratio.
    /// </summary>
    private static void AB(string label, Graph g, GpuDevice dev, double bytes, string variable, string other)
    {
        if (!label.Contains(KernelFilter, StringComparison.Ordinal)) return;
        string[] variables = variable.Split(',');
        var vector = new List<double>();
        var scalar = new List<double>();
        for (int round = 0; round < 3; round++)
        {
            vector.Add(Time(g, dev, 7));
            foreach (string v in variables) Environment.SetEnvironmentVariable(SwitchName(v), SwitchValue(v));
            try
            {
                scalar.Add(Time(g, dev, 7));
            }
            finally
            {
                foreach (string v in variables) Environment.SetEnvironmentVariable(SwitchName(v), null);
            }
        }

        vector.Sort();
        scalar.Sort();
        double tv = vector[1], ts = scalar[1];
        Row(label, tv, $"{bytes / tv / 1e9:F0} GB/s");
        Row($"{label} ({other}, {string.Join(" ", variables.Select(v => SwitchName(v) + "=" + SwitchValue(v)))})", ts, $"{bytes / ts / 1e9:F0} GB/s (default {ts / tv:F2}x)");
    }

    /// <summary>The variable of an A/B switch written <c>NAME</c> or <c>NAME=VALUE</c>.</summary>
    private static string SwitchName(string v) => v.Contains('=', StringComparison.Ordinal) ? v[..v.IndexOf('=', StringComparison.Ordinal)] : v;

    /// <summary>The value of an A/B switch written <c>NAME</c> (1) or <c>NAME=VALUE</c>.</summary>
    private static string SwitchValue(string v) => v.Contains('=', StringComparison.Ordinal) ? v[(v.IndexOf('=', StringComparison.Ordinal) + 1)..] : "1";

    /// <summary>
    /// Whether greedy decoding reads the token the steps chose on the device (the default) rather than the logits row
    /// (<see cref="Transformers.Generation.DecoderSession.GreedyOnHostVariable"/> set to 1).
    /// </summary>
    private static bool DeviceToken => Environment.GetEnvironmentVariable(Transformers.Generation.DecoderSession.GreedyOnHostVariable) != "1";

    private static int CheckDecode(string dir, bool graphs, string spec)
    {
        string json = File.ReadAllText(Path.Combine(dir, "reference.json"));
        using var doc = JsonDocument.Parse(json);
        int[] prompt = [.. doc.RootElement.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32())];
        int[] expected = [.. doc.RootElement.GetProperty("greedy_continuation").EnumerateArray().Select(e => e.GetInt32())];
        var model = (ICausalLanguageModel)ModelRegistry.Load(dir);
        using var dec = new DeviceDecoder(model, Backend(spec), prompt.Length + expected.Length, graphs, DeviceToken);
        var got = new List<int> { dec.Prefill(prompt) };
        while (got.Count < expected.Length) got.Add(dec.Step(got[^1]));
        bool ok = got.SequenceEqual(expected);
        Console.WriteLine($"check-decode {Path.GetFileName(dir)}{(graphs ? " (fixed-size cache, CUDA graph: " + dec.GraphReport + ")" : "")}: resident-cache greedy {(ok ? "matches" : "DIFFERS from")} transformers' continuation ({string.Join(",", got)})");
        return ok ? 0 : 1;
    }

    /// <summary>
    /// The GGUF file whose vocabulary the written GGUF llama takes: tests/fixtures/gguf/llama-q8_0.gguf under
    /// CANDLE_FIXTURES, or under the repository that holds this program or the working directory.
    /// </summary>
    private static string VocabSource()
    {
        const string Name = "llama-q8_0.gguf";
        if (Environment.GetEnvironmentVariable("CANDLE_FIXTURES") is { Length: > 0 } fixtures) return Path.Combine(fixtures, "gguf", Name);
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                string f = Path.Combine(d.FullName, "tests", "fixtures", "gguf", Name);
                if (File.Exists(f)) return f;
            }
        }

        throw new FileNotFoundException($"{Name} (the vocabulary of the written GGUF) was not found: set CANDLE_FIXTURES to tests/fixtures");
    }

    private static void Decode(string dir, ModelLoadOptions? options, int promptLength, int tokens, bool graphs)
    {
        var sw = Stopwatch.StartNew();
        var model = (ICausalLanguageModel)ModelRegistry.Load(dir, options);
        using var dec = new DeviceDecoder(model, GpuBackends.Cuda, promptLength + tokens + 32, graphs, DeviceToken);
        string weights = Path.GetExtension(dir) == ".gguf" ? $"GGUF {Path.GetFileName(dir)}" : model.DType.TorchName();
        Console.WriteLine($"decode{(graphs ? " (fixed-size cache, CUDA graph)" : "")}: {model.NumLayers} layers, {weights}, loaded and compiled in {sw.Elapsed.TotalSeconds:F1} s on {dec.Device}");
        var rng = new Random(0);
        int[] prompt = [.. Enumerable.Range(0, promptLength).Select(_ => rng.Next(3, Math.Min(32000, model.VocabSize)))];
        sw.Restart();
        int next = dec.Prefill(prompt);
        Console.WriteLine($"first prefill (weights uploaded, kernels compiled): {sw.Elapsed.TotalSeconds:F2} s");
        for (int i = 0; i < 16; i++) next = dec.Step(next);
        var times = new List<double>();
        for (int rep = 0; rep < 5; rep++)
        {
            sw.Restart();
            next = dec.Prefill(prompt);
            times.Add(sw.Elapsed.TotalSeconds);
        }

        double median = times.Order().ElementAt(2);
        Console.WriteLine($"| prefill {promptLength} tokens (ids in, {(dec.DeviceToken ? "device argmax token" : "last logits")} out, median of 5, plan reused) | {median * 1e3:F1} ms | {promptLength / median:F0} tok/s |");
        int start = dec.Length;
        bool timing = GpuTiming.Enabled;
        GpuTiming.Enabled = false;
        dec.EnqueueTicks = 0;
        sw.Restart();
        for (int i = 0; i < tokens; i++) next = dec.Step(next);
        dec.Device.Synchronize();
        double s = sw.Elapsed.TotalSeconds;
        Console.WriteLine($"| decode, ctx {start}..{start + tokens}, greedy with {(dec.DeviceToken ? "the device's argmax token" : "logits")} to host | {s * 1e3 / tokens:F2} ms/token | {tokens / s:F0} tok/s |");
        Console.WriteLine($"decode step: {dec.DecodeCalls} calls ({dec.DescribeDecode()}); host enqueue {dec.EnqueueTicks * 1e3 / Stopwatch.Frequency / tokens:F3} ms/token; {dec.FoldedSteps} calls folded over all enqueues");
        if (graphs) Console.WriteLine($"decode graphs: {dec.GraphReport}");
        if (timing)
        {
            Profile(dec, ref next, Math.Min(tokens, 16));
            GpuTiming.Enabled = true;
            GpuTiming.Reset();
            dec.Prefill(prompt);
            GpuTiming.Enabled = false;
            Console.WriteLine($"prefill of {promptLength} tokens, each call synchronized (CANDLE_GPU_TIMING):");
            Console.Write(GpuTiming.Report(1));
        }
    }

    /// <summary>
    /// Host cost of a decode step on any GPU device spec (ilgpu-cpu runs without a GPU): the model's decode plan stepped
    /// <paramref name="tokens"/> times after a short prompt, with the time per step and per kernel call.
    /// </summary>
    private static void Host(string dir, string spec, int tokens, DType? dtype)
    {
        var model = (ICausalLanguageModel)ModelRegistry.Load(dir, dtype is { } dt ? new ModelLoadOptions { DType = dt } : null);
        using var dec = new DeviceDecoder(model, Backend(spec), tokens + 40);
        int next = dec.Prefill([1, 2, 3, 4, 5, 6, 7, 8]);
        for (int i = 0; i < 8; i++) next = dec.Step(next);
        bool timing = GpuTiming.Enabled;
        GpuTiming.Enabled = false;
        dec.EnqueueTicks = 0;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < tokens; i++) next = dec.Step(next);
        dec.Device.Synchronize();
        double s = sw.Elapsed.TotalSeconds;
        Console.WriteLine($"host {Path.GetFileName(dir)} on {dec.Device}: {dec.DecodeCalls} calls/step ({dec.DescribeDecode()}), {s * 1e3 / tokens:F3} ms/step, {s * 1e6 / tokens / dec.DecodeCalls:F2} us/call, host enqueue {dec.EnqueueTicks * 1e3 / Stopwatch.Frequency / tokens:F3} ms/step");
        if (timing) Profile(dec, ref next, Math.Min(tokens, 8));
    }

    private static GpuBackend Backend(string spec) =>
        spec.StartsWith("cuda", StringComparison.Ordinal) ? GpuBackends.Cuda : spec.StartsWith("opencl", StringComparison.Ordinal) ? GpuBackends.OpenCL : GpuBackends.IlgpuCpu;

    /// <summary>The calls of a model's prefill and decode plans by kind, compiled for ILGPU's CPU accelerator (nothing runs).</summary>
    private static void Calls(string dir, DType? dtype)
    {
        var model = (ICausalLanguageModel)ModelRegistry.Load(dir, dtype is { } dt ? new ModelLoadOptions { DType = dt } : null);
        using var prefill = (GpuExecutable)GpuBackends.IlgpuCpu.Compile(model.TracePrefill(), CompileOptions.Default);
        using var decode = (GpuExecutable)GpuBackends.IlgpuCpu.Compile(model.TraceDecode(), CompileOptions.Default);
        using var fixedCache = (GpuExecutable)GpuBackends.IlgpuCpu.Compile(
            ((CausalLanguageModel)model).TraceStaticDecode(Math.Min(model.MaxPositions, 256)), CompileOptions.Default);
        Console.WriteLine($"prefill: {prefill.CallCount} calls ({prefill.DescribeCalls()})");
        Console.WriteLine($"decode: {decode.CallCount} calls ({decode.DescribeCalls()})");
        Console.WriteLine($"static decode: {fixedCache.CallCount} calls ({fixedCache.DescribeCalls()})");
        if (Environment.GetEnvironmentVariable("CANDLE_LIST_CALLS") is { Length: > 0 })
        {
            Console.WriteLine("decode calls:");
            Console.WriteLine(decode.ListCalls());
            Console.WriteLine("static decode calls:");
            Console.WriteLine(fixedCache.ListCalls());
        }
    }

    /// <summary>Steps <paramref name="steps"/> tokens with every call synchronized and timed, and prints the table by call kind.</summary>
    private static void Profile(DeviceDecoder dec, ref int next, int steps)
    {
        GpuTiming.Enabled = true;
        next = dec.Step(next);
        GpuTiming.Reset();
        for (int i = 0; i < steps; i++) next = dec.Step(next);
        GpuTiming.Enabled = false;
        Console.WriteLine($"decode step, each call synchronized (CANDLE_GPU_TIMING), mean of {steps} steps:");
        Console.Write(GpuTiming.Report(steps));
    }

    private static void Row(string name, double seconds, string figure) =>
        Console.WriteLine($"| {name} | {seconds * 1e3:F3} | {figure} |");

    /// <summary>
    /// Seconds per run: the median over <paramref name="reps"/> batches (after one warm-up batch) of five
    /// back-to-back <c>RunOnDevice</c> calls and one synchronization, divided by the batch, so that the host's launch work
    /// overlaps the device's as in a real program; the outputs are freed after the batch's synchronization.
    /// </summary>
    private static double Time(Graph g, GpuDevice dev, int reps)
    {
        using var exe = (GpuExecutable)CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.Cuda });
        var rng = new Random(1);
        var inputs = g.Inputs.Select(i => Upload(rng, i.DType, [.. i.Shape.Select(d => (int)d.Value)], dev)).ToArray();
        try
        {
            return Time(exe, inputs, dev, reps);
        }
        finally
        {
            foreach (var i in inputs) i.Dispose();
        }
    }

    /// <summary>Seconds per run of a compiled plan over <paramref name="inputs"/>, as <see cref="Time(Graph, GpuDevice, int)"/> measures it.</summary>
    private static double Time(GpuExecutable exe, DeviceTensor[] inputs, GpuDevice dev, int reps)
    {
        const int Batch = 5;
        var ts = new List<double>();
        var outs = new List<DeviceTensor>();
        for (int r = 0; r < reps + 1; r++)
        {
            var sw = Stopwatch.StartNew();
            for (int b = 0; b < Batch; b++) outs.AddRange(exe.RunOnDevice(inputs));
            dev.Synchronize();
            double t = sw.Elapsed.TotalSeconds / Batch;
            foreach (var o in outs) o.Dispose();
            outs.Clear();
            if (r >= 1) ts.Add(t);
        }

        ts.Sort();
        return ts[ts.Count / 2];
    }

    private static DeviceTensor Upload(Random rng, DType dt, int[] shape, IDevice dev)
    {
        long n = shape.Aggregate(1L, (a, d) => a * d);
        var f = new float[n];
        for (long i = 0; i < n; i++) f[i] = (float)((rng.NextDouble() * 4) - 2);
        var t = HostTensor.FromArray(f, shape);
        if (dt != DType.F32) t = t.Cast(dt);
        return DeviceTensor.Upload(t, dev);
    }
}
