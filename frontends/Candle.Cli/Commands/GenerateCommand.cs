using System.CommandLine;
using System.Globalization;
using Candle.Compiler.Backends;
using Candle.Transformers.Generation;

namespace Candle.Cli.Commands;

/// <summary>
/// <c>candle generate &lt;model&gt; (-p TEXT | --prompt-ids 1,2,3) -n N [-t THREADS] [-O 2] [--greedy | --temperature T --top-p P --top-k K --seed S] [--ids]</c>.
/// Echoes a text prompt and streams the continuation after it; with <c>--ids</c> it ends with one line
/// <c>ids: 5 9 12 …</c> listing the new token ids.
/// </summary>
internal static class GenerateCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new ModelInput("a Hugging Face model directory or a llama GGUF file");
        var prompt = new Option<string?>("--prompt", "-p") { Description = "prompt text (needs the model's tokenizer)" };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "prompt token ids, comma separated" };
        var maxNew = new Option<int>("--max-new-tokens", "-n") { Description = "tokens to generate at most", DefaultValueFactory = _ => 32 };
        var greedy = new Option<bool>("--greedy") { Description = "always take the most likely token (the default unless --temperature is given)" };
        var temperature = new Option<double?>("--temperature") { Description = "sampling temperature" };
        var topP = new Option<double>("--top-p") { Description = "nucleus sampling threshold", DefaultValueFactory = _ => 1.0 };
        var topK = new Option<int>("--top-k") { Description = "keep the k most likely tokens (0 = all)" };
        var seed = new Option<ulong>("--seed") { Description = "sampler seed", DefaultValueFactory = _ => 299792458UL };
        var repetition = new Option<double>("--repetition-penalty") { Description = "penalty for repeated tokens (1 = off)", DefaultValueFactory = _ => 1.0 };
        var ids = new Option<bool>("--ids") { Description = "end with a line 'ids: …' listing the new token ids" };
        var threads = new Option<int>("--threads", "-t") { Description = "worker threads (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var opt = new Option<int>("--opt", "-O") { Description = "optimization level 0..3", DefaultValueFactory = _ => 2 };
        var device = DeviceOption.Create();
        var allowUnused = LoadOption.Create();
        var kvType = KvTypeOption.Create();
        var cmd = new Command("generate", "Generate text with a causal language model")
        {
            model.Argument, model.Option, prompt, promptIds, maxNew, greedy, temperature, topP, topK, seed, repetition, ids, threads, opt, device, allowUnused, kvType,
        };
        cmd.SetAction(pr => ctx.Guard(() =>
        {
            var kvDType = KvTypeOption.Resolve(pr.GetValue(kvType));
            string? text = pr.GetValue(prompt);
            string? idText = pr.GetValue(promptIds);
            if ((text is null) == (idText is null)) throw new ArgumentException("give exactly one of --prompt and --prompt-ids");
            double? temp = pr.GetValue(temperature);
            if (pr.GetValue(greedy) && temp is not null) throw new ArgumentException("--greedy and --temperature exclude each other");
            FlagChecks.AtLeast("--max-new-tokens", pr.GetValue(maxNew), 0);
            int n = pr.GetValue(threads);
            if (n < 1 || n > Environment.ProcessorCount)
            {
                throw new ArgumentException($"--threads must be between 1 and {Environment.ProcessorCount} (the processors of this machine), got {n}");
            }

            if (pr.GetValue(opt) is < 0 or > 3) throw new ArgumentException($"--opt: {pr.GetValue(opt)} is not 0, 1, 2 or 3");
            FlagChecks.AtLeast("--top-k", pr.GetValue(topK), 0);
            if (temp is double t0 && !(t0 > 0 && double.IsFinite(t0))) throw new ArgumentException($"--temperature must be a finite number > 0, got {t0}");
            if (!(pr.GetValue(topP) is > 0 and <= 1)) throw new ArgumentException($"--top-p must be in (0, 1], got {pr.GetValue(topP)}");
            if (!(pr.GetValue(repetition) > 0 && double.IsFinite(pr.GetValue(repetition))))
            {
                throw new ArgumentException($"--repetition-penalty must be a finite number > 0, got {pr.GetValue(repetition)}");
            }

            var options = new GenerationOptions
            {
                MaxNewTokens = pr.GetValue(maxNew),
                Greedy = temp is null,
                Temperature = temp ?? 1.0,
                TopP = pr.GetValue(topP),
                TopK = pr.GetValue(topK),
                Seed = pr.GetValue(seed),
                RepetitionPenalty = pr.GetValue(repetition),
            };
            ctx.SetStageQuietly("loading and compiling the model");
            string modelPath = model.Resolve(pr);
            using var generator = ModelLoadProgress.Run(ctx, (load, compile) => TextGenerator.Load(modelPath, DeviceOption.Resolve(pr.GetValue(device)!),
                LoadOption.Resolve(pr.GetValue(allowUnused)) with { Progress = load, KvCacheDType = kvDType }, DeviceOption.Options(pr.GetValue(device)!, new CompileOptions { Threads = n, OptLevel = pr.GetValue(opt), Progress = compile })));
            ctx.SetStageQuietly("generating");
            bool streamText = generator.Tokenizer is not null;
            if (streamText && text is not null)
            {
                // The prompt is echoed, then the continuation streams after it (as llama.cpp prints them).
                ctx.Out.Write(text);
                ctx.Out.Flush();
            }

            void OnToken(GeneratedToken t)
            {
                if (streamText)
                {
                    ctx.Out.Write(t.Text);
                    ctx.Out.Flush();
                }
            }

            GenerationResult result = text is not null
                ? generator.Generate(text, options with { StopTokens = [.. generator.Shape.EosTokenIds] }, OnToken)
                : generator.Generate(ParseIds(idText!), options with { StopTokens = [.. generator.Shape.EosTokenIds] }, OnToken);
            if (streamText) ctx.Out.WriteLine();
            if (pr.GetValue(ids) || !streamText)
            {
                ctx.Out.WriteLine("ids: " + string.Join(" ", result.GeneratedIds));
            }

            ctx.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"prefill {result.PromptIds.Count} tokens at {result.PrefillTokensPerSecond:F1} tok/s, decode {result.DecodeSteps} tokens at {result.DecodeTokensPerSecond:F1} tok/s ({result.FinishReason})"));
            return 0;
        }));
        return cmd;
    }

    internal static int[] ParseIds(string text)
    {
        var parts = text.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0) throw new ArgumentException("--prompt-ids is empty");
        return [.. parts.Select(p => int.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= 0
            ? v
            : throw new ArgumentException($"--prompt-ids: '{p}' is not a token id"))];
    }
}
