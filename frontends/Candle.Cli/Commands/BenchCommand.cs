using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Candle.Transformers.Generation;

namespace Candle.Cli.Commands;

/// <summary>
/// <c>candle bench &lt;model&gt; --prompt-tokens 128 --gen-tokens 64 --threads N [--json]</c>: prefill and decode
/// tokens/s as llama-bench measures them (after a warm-up, median of repeats).
/// </summary>
internal static class BenchCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new Argument<string>("model") { Description = "a Hugging Face model directory or a llama GGUF file" };
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "prompt length for the prefill test (0 skips it)", DefaultValueFactory = _ => 128 };
        var genTokens = new Option<int>("--gen-tokens") { Description = "tokens for the decode test (0 skips it)", DefaultValueFactory = _ => 64 };
        var threads = new Option<int>("--threads") { Description = "worker threads (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var repetitions = new Option<int>("--repetitions") { Description = "timed repeats (the median is reported)", DefaultValueFactory = _ => 5 };
        var json = new Option<bool>("--json") { Description = "print one JSON object {\"pp_tok_s\": …, \"tg_tok_s\": …} as the last line" };
        var device = DeviceOption.Create();
        var allowUnused = LoadOption.Create();
        var cmd = new Command("bench", "Measure prefill and decode throughput") { model, promptTokens, genTokens, threads, repetitions, json, device, allowUnused };
        cmd.SetAction(pr => ctx.Guard(() =>
        {
            int n = pr.GetValue(threads);
            if (n < 1 || n > Environment.ProcessorCount)
            {
                throw new ArgumentException($"--threads must be between 1 and {Environment.ProcessorCount} (the processors of this machine), got {n}");
            }

            FlagChecks.AtLeast("--prompt-tokens", pr.GetValue(promptTokens), 0);
            FlagChecks.AtLeast("--gen-tokens", pr.GetValue(genTokens), 0);
            FlagChecks.AtLeast("--repetitions", pr.GetValue(repetitions), 1);
            ctx.Stage = "loading the model";
            var generator = TextGenerator.Load(pr.GetValue(model)!, DeviceOption.Resolve(pr.GetValue(device)!), LoadOption.Resolve(pr.GetValue(allowUnused)),
                compileOptions: new Compiler.Backends.CompileOptions { Threads = n });
            ctx.Stage = "running the benchmark";
            var result = generator.Benchmark(new BenchmarkOptions
            {
                PromptTokens = pr.GetValue(promptTokens),
                GenTokens = pr.GetValue(genTokens),
                Repetitions = pr.GetValue(repetitions),
            });
            var inv = CultureInfo.InvariantCulture;
            ctx.Out.WriteLine(string.Create(inv, $"model {pr.GetValue(model)}  threads {n}  device {pr.GetValue(device)}"));
            ctx.Out.WriteLine(string.Create(inv, $"pp{pr.GetValue(promptTokens)}: {result.PrefillTokensPerSecond:F2} tok/s"));
            ctx.Out.WriteLine(string.Create(inv, $"tg{pr.GetValue(genTokens)}: {result.DecodeTokensPerSecond:F2} tok/s"));
            if (pr.GetValue(json))
            {
                ctx.Out.WriteLine(JsonSerializer.Serialize(new Dictionary<string, double>
                {
                    ["pp_tok_s"] = Math.Round(result.PrefillTokensPerSecond, 3),
                    ["tg_tok_s"] = Math.Round(result.DecodeTokensPerSecond, 3),
                }));
            }

            return 0;
        }));
        return cmd;
    }
}
