using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Candle.Transformers.Generation;

namespace Candle.Cli.Commands;

/// <summary>
/// <c>candle bench &lt;model&gt; -p 128,512 -n 64 -t 1,2 -r 5 [--output md|csv|json]</c>: prefill (ppN) and decode
/// (tgN) tokens per second as llama-bench measures them, swept over every prompt length, generation length and
/// thread count given (comma-separated), after a warm-up, as mean ± standard deviation over the repetitions.
/// </summary>
internal static class BenchCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new ModelInput("a Hugging Face model directory or a llama GGUF file");
        var promptTokens = new Option<string>("--prompt-tokens", "-p") { Description = "prompt lengths of the prefill tests, comma-separated (0 skips them)", DefaultValueFactory = _ => "128" };
        var genTokens = new Option<string>("--gen-tokens", "-n") { Description = "generated tokens of the decode tests, comma-separated (0 skips them)", DefaultValueFactory = _ => "64" };
        var threads = new Option<string>("--threads", "-t") { Description = "worker thread counts, comma-separated (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture) };
        var repetitions = new Option<int>("--repetitions", "-r") { Description = "timed repetitions of each test", DefaultValueFactory = _ => 5 };
        var output = new Option<string>("--output", "-o") { Description = "md (a llama-bench table), csv or json (one record per test with every repetition)", DefaultValueFactory = _ => "md" };
        var json = new Option<bool>("--json") { Description = "also print one JSON object {\"pp_tok_s\": …, \"tg_tok_s\": …} (medians of the first prefill and decode tests) as the last line" };
        var device = DeviceOption.Create();
        var allowUnused = LoadOption.Create();
        var kvType = KvTypeOption.Create();
        var cmd = new Command("bench", "Measure prefill and decode throughput (llama-bench style sweeps)") { model.Argument, model.Option, promptTokens, genTokens, threads, repetitions, output, json, device, allowUnused, kvType };
        cmd.SetAction(pr => ctx.Guard(() =>
        {
            var kvDType = KvTypeOption.Resolve(pr.GetValue(kvType));
            int[] prompts = ParseList("--prompt-tokens", pr.GetValue(promptTokens)!, 0);
            int[] gens = ParseList("--gen-tokens", pr.GetValue(genTokens)!, 0);
            int[] threadCounts = ParseList("--threads", pr.GetValue(threads)!, 1);
            foreach (int n in threadCounts)
            {
                if (n > Environment.ProcessorCount)
                {
                    throw new ArgumentException($"--threads must be between 1 and {Environment.ProcessorCount} (the processors of this machine), got {n}");
                }
            }

            FlagChecks.AtLeast("--repetitions", pr.GetValue(repetitions), 1);
            string format = pr.GetValue(output)!;
            if (!BenchReport.Formats.Contains(format)) throw new ArgumentException($"--output: '{CliText.Escape(format)}' is not md, csv or json");
            string modelPath = model.Resolve(pr);
            string deviceName = pr.GetValue(device)!;
            string modelName = Path.GetFileName(Path.TrimEndingDirectorySeparator(modelPath));
            var rows = new List<BenchReport.Row>();
            double? firstPp = null, firstTg = null;
            foreach (int n in threadCounts)
            {
                ctx.SetStageQuietly(string.Create(CultureInfo.InvariantCulture, $"loading the model ({n} threads)"));
                using var generator = ModelLoadProgress.Run(ctx, (load, compile) => TextGenerator.Load(modelPath, DeviceOption.Resolve(deviceName),
                    LoadOption.Resolve(pr.GetValue(allowUnused)) with { Progress = load, KvCacheDType = kvDType }, DeviceOption.Options(deviceName, new Compiler.Backends.CompileOptions { Threads = n, Progress = compile })));
                var tests = prompts.Where(p => p > 0).Select(p => (Prompt: p, Gen: 0)).Concat(gens.Where(g => g > 0).Select(g => (Prompt: 0, Gen: g)));
                foreach (var (p, g) in tests)
                {
                    string test = string.Create(CultureInfo.InvariantCulture, $"{(p > 0 ? $"pp{p}" : $"tg{g}")} ({n} threads)");
                    ctx.SetStageQuietly("running " + test);
                    var result = CliProgress.Run(ctx, "running " + test, task => generator.Benchmark(new BenchmarkOptions
                    {
                        PromptTokens = p,
                        GenTokens = g,
                        Repetitions = pr.GetValue(repetitions),
                        Progress = task is null ? null : new Reporter(b =>
                        {
                            task.MaxValue = b.Total;
                            task.Value = b.Done;
                        }),
                    }), (r, elapsed) => string.Create(CultureInfo.InvariantCulture,
                        $"{test}: median {(p > 0 ? r.PrefillTokensPerSecond : r.DecodeTokensPerSecond):F2} tok/s over {pr.GetValue(repetitions)} runs in {elapsed.TotalSeconds:F1} s"));
                    rows.Add(new BenchReport.Row(modelName, generator.Shape.ModelType, deviceName, n, p, g, p > 0 ? result.PrefillSamples : result.DecodeSamples));
                    if (p > 0) firstPp ??= result.PrefillTokensPerSecond;
                    else firstTg ??= result.DecodeTokensPerSecond;
                }
            }

            ctx.Stage = "done";
            ctx.Out.Write(BenchReport.Render(rows, format));
            if (pr.GetValue(json))
            {
                ctx.Out.WriteLine(JsonSerializer.Serialize(new Dictionary<string, double>
                {
                    ["pp_tok_s"] = Math.Round(firstPp ?? 0, 3),
                    ["tg_tok_s"] = Math.Round(firstTg ?? 0, 3),
                }));
            }

            return 0;
        }));
        return cmd;
    }

    /// <summary>Passes reports to an action on the reporting thread (Spectre's tasks take updates from any thread).</summary>
    private sealed class Reporter(Action<BenchmarkProgress> report) : IProgress<BenchmarkProgress>
    {
        public void Report(BenchmarkProgress value) => report(value);
    }

    /// <summary>A comma-separated list of integers, each at least <paramref name="minimum"/>.</summary>
    /// <exception cref="ArgumentException">The text is not such a list; the message names the flag.</exception>
    private static int[] ParseList(string flag, string text, int minimum)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out values[i]))
            {
                throw new ArgumentException($"{flag}: '{CliText.Escape(text)}' is not a comma-separated list of whole numbers");
            }

            FlagChecks.AtLeast(flag, values[i], minimum);
        }

        return [.. values.Distinct()];
    }
}
