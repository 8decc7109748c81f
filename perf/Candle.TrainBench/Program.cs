using System.Diagnostics;
using System.Globalization;
using Candle.Compiler.Autodiff;
using Candle.Compiler.Backends;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Transformers.Models;
using Candle.Transformers.Training;

namespace Candle.TrainBench;

/// <summary>
/// Times the compiled train step (loss, gradients and AdamW update in one plan) of a GPT-2-shaped model with random
/// weights: <c>Candle.TrainBench [--layers 12] [--hidden 768] [--heads 12] [--vocab 50257] [--batch 8] [--seq 128]
/// [--threads N] [--steps 5] [--warmup 2] [--device cpu|cuda|ilgpu-cpu] [--calls]</c>. Writes a random checkpoint (normal, std 0.02; layer norms 1 and 0) to a
/// temporary directory, loads it through the model registry, and prints tokens/s (batch · seq per step) of the
/// timed steps and the process's CPU time per step (with one thread, a figure less sensitive than the wall time to
/// other work on the machine); with <c>--calls</c> it compiles the step and prints its kernel calls by kind instead of running it
/// (the CPU plan's steps by runtime kernel, generated kernels together; the GPU executable's calls by kind), and,
/// when CANDLE_LIST_CALLS is set, every call in order.
/// perf/Candle.TrainBench/train_step_peer.py does the same step in PyTorch eager.
/// </summary>
public static class Program
{
    private static IBackend Backend(string device) => device switch
    {
        "cuda" => Candle.Compiler.Gpu.GpuBackends.Cuda,
        "ilgpu-cpu" => Candle.Compiler.Gpu.GpuBackends.IlgpuCpu,
        _ => BackendRegistry.Get(device),
    };

    public static int Main(string[] args)
    {
        var o = new Dictionary<string, int>(StringComparer.Ordinal)
        {
            ["layers"] = 12, ["hidden"] = 768, ["heads"] = 12, ["vocab"] = 50257, ["batch"] = 8, ["seq"] = 128, ["threads"] = Environment.ProcessorCount, ["steps"] = 5, ["warmup"] = 2,
        };
        string device = "cpu";
        bool calls = false;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--calls")
            {
                calls = true;
                continue;
            }

            if (args[i] == "--device" && i + 1 < args.Length)
            {
                device = args[++i];
                continue;
            }

            string key = args[i].StartsWith("--", StringComparison.Ordinal) ? args[i][2..] : "";
            if (!o.ContainsKey(key) || i + 1 >= args.Length || !int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out int v) || v < 1)
            {
                Console.Error.WriteLine($"bad argument '{args[i]}'; options: {string.Join(" ", o.Keys.Select(k => $"--{k} N"))}");
                return 2;
            }

            o[key] = v;
            i++;
        }

        string dir = Path.Combine(Path.GetTempPath(), "candle-trainbench-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        try
        {
            WriteCheckpoint(dir, o["layers"], o["hidden"], o["heads"], o["vocab"], Math.Max(o["seq"], 1024));
            var model = ModelRegistry.Load(dir);
            if (calls)
            {
                PrintCalls(model, Backend(device), o["threads"]);
                return 0;
            }

            var rng = new Random(0);
            var ids = HostTensor.FromArray(Enumerable.Range(0, o["batch"] * o["seq"]).Select(_ => (long)rng.Next(o["vocab"])).ToArray(), o["batch"], o["seq"]);
            var batch = TrainingObjective.Prepare(model, new Dictionary<string, HostTensor> { ["input_ids"] = ids }, "random batch");
            bool profile = device != "cpu" && Candle.Compiler.Gpu.GpuTiming.Enabled;
            Candle.Compiler.Gpu.GpuTiming.Enabled = false;
            var sw = Stopwatch.StartNew();
            using var trainer = new LanguageModelTrainer(model, new AdamW(1e-4), Backend(device), options: new CompileOptions { Threads = o["threads"] });
            Console.WriteLine($"compiled in {sw.Elapsed.TotalSeconds:F1} s");
            for (int s = 0; s < o["warmup"]; s++) Console.WriteLine($"warmup step: loss {trainer.Step(batch):F4}");
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            sw.Restart();
            for (int s = 0; s < o["steps"]; s++) trainer.Step(batch);
            double seconds = sw.Elapsed.TotalSeconds;
            double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            double tokens = (double)o["batch"] * o["seq"] * o["steps"];
            Console.WriteLine($"candle train step: GPT-2 shape {o["layers"]} layers, hidden {o["hidden"]}, {o["heads"]} heads, vocab {o["vocab"]}, batch {o["batch"]} x {o["seq"]}, AdamW, {o["threads"]} threads: " +
                $"device {device}: {seconds / o["steps"] * 1000:F1} ms/step, {tokens / seconds:F0} tokens/s, process CPU time {cpuSeconds / o["steps"] * 1000:F1} ms/step");
            if (profile)
            {
                Candle.Compiler.Gpu.GpuTiming.Enabled = true;
                // After the timed steps: one more step with every call synchronized, by call kind.
                Candle.Compiler.Gpu.GpuTiming.Reset();
                trainer.Step(batch);
                Console.WriteLine("one train step, each call synchronized (CANDLE_GPU_TIMING):");
                Console.Write(Candle.Compiler.Gpu.GpuTiming.Report());
            }

            return 0;
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    /// <summary>Compiles the train step as <see cref="LanguageModelTrainer"/> does and prints its kernel calls by kind.</summary>
    private static void PrintCalls(IPretrainedModel model, IBackend backend, int threads)
    {
        var loss = TrainingObjective.Trace(model);
        var step = TrainStep.Build(loss, LanguageModelLoss.Loss, LanguageModelLoss.Parameters(model, loss), new AdamW(1e-4), null);
        using var exe = backend.Compile(step.Graph, new CompileOptions { Threads = threads, CaptureGraphs = true });
        bool list = Environment.GetEnvironmentVariable("CANDLE_LIST_CALLS") is { Length: > 0 };
        switch (exe)
        {
            case Plan plan:
                var steps = plan.Definition.Steps;
                var kinds = steps.GroupBy(s => s.Kernel.StartsWith("gen:", StringComparison.Ordinal) ? "generated" : s.Kernel)
                    .OrderByDescending(g => g.Count()).Select(g => $"{g.Key} x{g.Count()}");
                Console.WriteLine($"train step plan: {steps.Count} steps ({string.Join(", ", kinds)})");
                if (list) Console.WriteLine(string.Join(Environment.NewLine, steps.Select(s => $"{s.Kernel}: {s.Label}")));
                break;
            case Candle.Compiler.Gpu.GpuExecutable gpu:
                Console.WriteLine($"train step calls: {gpu.CallCount} ({gpu.DescribeCalls()})");
                if (list) Console.WriteLine(gpu.ListCalls());
                break;
            default:
                Console.WriteLine($"train step: {exe.GetType().Name} does not list its calls");
                break;
        }
    }

    private static void WriteCheckpoint(string dir, int layers, int hidden, int heads, int vocab, int positions)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), $$"""
            {"model_type": "gpt2", "activation_function": "gelu_new", "n_embd": {{hidden}}, "n_head": {{heads}}, "n_layer": {{layers}},
             "n_positions": {{positions}}, "n_inner": null, "vocab_size": {{vocab}}, "layer_norm_epsilon": 1e-5, "tie_word_embeddings": true,
             "attn_pdrop": 0.0, "embd_pdrop": 0.0, "resid_pdrop": 0.0, "scale_attn_weights": true, "bos_token_id": 50256, "eos_token_id": 50256}
            """);
        var rng = new Random(42);
        var tensors = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        HostTensor Normal(params int[] shape)
        {
            var v = new float[shape.Aggregate(1, (a, b) => a * b)];
            for (int i = 0; i < v.Length; i++) v[i] = (float)(0.02 * Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
            return HostTensor.FromArray(v, shape);
        }

        HostTensor Fill(float value, int n) => HostTensor.FromArray(Enumerable.Repeat(value, n).ToArray(), n);
        tensors["transformer.wte.weight"] = Normal(vocab, hidden);
        tensors["transformer.wpe.weight"] = Normal(positions, hidden);
        for (int l = 0; l < layers; l++)
        {
            string p = $"transformer.h.{l}.";
            tensors[p + "ln_1.weight"] = Fill(1, hidden);
            tensors[p + "ln_1.bias"] = Fill(0, hidden);
            tensors[p + "attn.c_attn.weight"] = Normal(hidden, 3 * hidden);
            tensors[p + "attn.c_attn.bias"] = Fill(0, 3 * hidden);
            tensors[p + "attn.c_proj.weight"] = Normal(hidden, hidden);
            tensors[p + "attn.c_proj.bias"] = Fill(0, hidden);
            tensors[p + "ln_2.weight"] = Fill(1, hidden);
            tensors[p + "ln_2.bias"] = Fill(0, hidden);
            tensors[p + "mlp.c_fc.weight"] = Normal(hidden, 4 * hidden);
            tensors[p + "mlp.c_fc.bias"] = Fill(0, 4 * hidden);
            tensors[p + "mlp.c_proj.weight"] = Normal(4 * hidden, hidden);
            tensors[p + "mlp.c_proj.bias"] = Fill(0, hidden);
        }

        tensors["transformer.ln_f.weight"] = Fill(1, hidden);
        tensors["transformer.ln_f.bias"] = Fill(0, hidden);
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors);
    }
}
