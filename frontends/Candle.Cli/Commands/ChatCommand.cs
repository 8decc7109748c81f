using Spectre.Console;
using Candle.Compiler.Backends;
using System.CommandLine;
using Candle.Transformers.Chat;
using Candle.Transformers.Chat.Templates;
using Candle.Transformers.Generation;

namespace Candle.Cli.Commands;

/// <summary>
/// <c>candle chat &lt;model&gt; [--system TEXT] [--max-new-tokens N] [--temperature T --seed S] [--template FILE]</c>: an
/// interactive chat. Each line read from standard input is a user message; the conversation is rendered with the
/// model's chat template (from the model, or <c>--template</c>), the reply streams to standard output and joins the
/// history. Ctrl+C cancels the reply being written (the turn is dropped); <c>/reset</c> forgets the conversation,
/// <c>/exit</c> or the end of input ends the chat.
/// </summary>
internal static class ChatCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new ModelInput("a Hugging Face model directory or a llama GGUF file, with a tokenizer and a chat template");
        var system = new Option<string?>("--system") { Description = "a system message that starts the conversation" };
        var maxNew = new Option<int>("--max-new-tokens", "-n") { Description = "tokens per reply at most", DefaultValueFactory = _ => 256 };
        var temperature = new Option<double?>("--temperature") { Description = "sampling temperature (greedy when not given)" };
        var seed = new Option<ulong>("--seed") { Description = "sampler seed", DefaultValueFactory = _ => 299792458UL };
        var template = new Option<string?>("--template") { Description = "a Jinja chat template file to use instead of the model's" };
        var device = DeviceOption.Create();
        var allowUnused = LoadOption.Create();
        var kvType = KvTypeOption.Create();
        var cmd = new Command("chat", "Chat with a causal language model, reading messages from standard input")
        {
            model.Argument, model.Option, system, maxNew, temperature, seed, template, device, allowUnused, kvType,
        };
        cmd.SetAction(pr => ctx.Guard(() =>
        {
            var kvDType = KvTypeOption.Resolve(pr.GetValue(kvType));
            FlagChecks.AtLeast("--max-new-tokens", pr.GetValue(maxNew), 1);
            double? temp = pr.GetValue(temperature);
            if (temp is double t0 && !(t0 > 0 && double.IsFinite(t0))) throw new ArgumentException($"--temperature must be a finite number > 0, got {t0}");
            string modelPath = model.Resolve(pr);
            string? templatePath = pr.GetValue(template);
            if (templatePath is not null && !File.Exists(templatePath)) throw new FileNotFoundException($"--template: {templatePath}: no such file");
            ctx.SetStageQuietly("loading and compiling the model");
            using var generator = ModelLoadProgress.Run(ctx, (load, compile) => TextGenerator.Load(modelPath, DeviceOption.Resolve(pr.GetValue(device)!),
                LoadOption.Resolve(pr.GetValue(allowUnused)) with { Progress = load, KvCacheDType = kvDType }, DeviceOption.Options(pr.GetValue(device)!, new CompileOptions { Progress = compile })));
            if (generator.Tokenizer is null) throw new ArgumentException($"{modelPath}: chat needs the model's tokenizer, and none was found");
            ctx.Stage = "reading the chat template";
            var found = ModelChatTemplate.TryLoad(modelPath);
            var chatTemplate = templatePath is not null ? ChatTemplate.Parse(File.ReadAllText(templatePath)) : found?.Template
                ?? throw new ArgumentException($"{modelPath}: no chat template (tokenizer_config.json's chat_template, chat_template.jinja or GGUF tokenizer.chat_template); give one with --template");
            var session = new ChatSession(generator, chatTemplate, pr.GetValue(system), found?.BosToken, found?.EosToken)
            {
                DefaultOptions = new GenerationOptions
                {
                    MaxNewTokens = pr.GetValue(maxNew),
                    Greedy = temp is null,
                    Temperature = temp ?? 1.0,
                    Seed = pr.GetValue(seed),
                    StopTokens = [.. generator.Shape.EosTokenIds],
                },
            };
            ctx.SetStageQuietly("chatting");
            return Loop(ctx, session);
        }));
        return cmd;
    }

    private static int Loop(CliContext ctx, ChatSession session)
    {
        CancellationTokenSource? reply = null;
        void OnCancel(object? sender, ConsoleCancelEventArgs e)
        {
            // Ctrl+C while a reply is written cancels that reply; otherwise it ends the program as usual.
            var current = Volatile.Read(ref reply);
            if (current is null) return;
            e.Cancel = true;
            current.Cancel();
        }

        IAnsiConsole? prompt = ctx.Progress && ReferenceEquals(ctx.In, Console.In) && !Console.IsInputRedirected && !Console.IsOutputRedirected ? AnsiConsole.Console : null;
        Console.CancelKeyPress += OnCancel;
        try
        {
            while (true)
            {
                // On a terminal the user types at a Spectre.Console prompt (line editing, history of the line); piped input is read line by line.
                string? line = prompt is not null ? prompt.Prompt(new TextPrompt<string>("[green]>[/]").AllowEmpty()) : ctx.In.ReadLine();
                if (line is null || line.Trim() == "/exit") return 0;
                if (line.Trim().Length == 0) continue;
                if (line.Trim() == "/reset")
                {
                    session.Reset();
                    ctx.Out.WriteLine("(conversation cleared)");
                    continue;
                }

                using var cts = new CancellationTokenSource();
                Volatile.Write(ref reply, cts);
                try
                {
                    Stream(ctx, session, line, cts.Token).GetAwaiter().GetResult();
                    ctx.Out.WriteLine();
                }
                catch (OperationCanceledException) when (cts.IsCancellationRequested)
                {
                    ctx.Out.WriteLine();
                    ctx.Out.WriteLine("(reply cancelled)");
                }
                finally
                {
                    Volatile.Write(ref reply, null);
                }
            }
        }
        finally
        {
            Console.CancelKeyPress -= OnCancel;
        }
    }

    private static async Task Stream(CliContext ctx, ChatSession session, string message, CancellationToken cancellationToken)
    {
        await foreach (var token in session.SendAsync(message, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            await ctx.Out.WriteAsync(token.Text).ConfigureAwait(false);
            await ctx.Out.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
