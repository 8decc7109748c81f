using System.Diagnostics;
using System.Globalization;
using Candle.Compiler.Backends.Cpu;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using Candle.Transformers.Generation;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;

namespace Candle.Perf.Dispatch;

/// <summary>
/// <c>plan-binding [LAYERS]</c>: the host's cost of binding a decode plan to a new cache length — what a generation pays
/// once per token, since its context grows by one each step (a benchmark that repeats the same lengths reuses cached
/// bindings). A llama of LAYERS layers (default 22, TinyLlama's count) with a small hidden size (the binding's work
/// follows the plan's steps, not the weights' sizes) is compiled for the CPU; its decode plan is bound for 200 new
/// lengths per round, timed by the thread's CPU clock (on a loaded machine wall time measures the other load), and
/// decode steps with new lengths and with lengths bound before are timed by the process's CPU time.
/// </summary>
internal static class PlanBindingTiming
{
    public static void Run(string[] args)
    {
        int layers = args is [var l, ..] ? int.Parse(l, CultureInfo.InvariantCulture) : 22;
        string dir = Directory.CreateTempSubdirectory("candle-plan-binding-").FullName;
        try
        {
            LlamaLayer.SmallLlamaCheckpoint.Write(dir, layers);
            var model = (ICausalLanguageModel)ModelRegistry.Load(dir);
            using var session = DecoderSession.Compile(model, CpuBackend.Instance);
            var plan = (Plan)session.DecodePlan;
            Console.WriteLine($"decode plan of {layers} layers: {plan.Definition.Steps.Count} steps, symbols {string.Join(", ", plan.Symbols)}");
            for (int round = 0; round < 12; round++)
            {
                const int Count = 200;
                double start = ThreadCpuClock.NowMs();
                for (int i = 0; i < Count; i++)
                {
                    plan.PeakArenaBytes(plan.Symbols.ToDictionary(s => s, s => s == "batch" ? 1L : 1 + (round * Count) + i));
                }

                Console.WriteLine($"round {round}: {(ThreadCpuClock.NowMs() - start) / Count:F3} ms of thread CPU per new binding");
            }

            const int Steps = 50;
            for (int round = 0; round < 4; round++)
            {
                int p = 4 + (round * 110);
                var prompt = HostTensor.FromArray(Enumerable.Range(0, p).Select(i => (long)((i % 900) + 3)).ToArray(), 1, p);
                var ms = new double[2];
                for (int k = 0; k < 2; k++)
                {
                    session.Reset(1024);
                    session.Prefill(prompt);
                    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                    for (int i = 0; i < Steps; i++) session.Decode(HostTensor.FromArray(new long[] { 3 }, 1, 1));
                    ms[k] = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / Steps;
                }

                Console.WriteLine($"decode, context {p}..{p + Steps}: new lengths {ms[0]:F3}, lengths bound before {ms[1]:F3} ms of process CPU per step");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
