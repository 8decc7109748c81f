using System.CommandLine;
using System.Text.Json;
using Candle.Transformers.Chat.Templates;

namespace Candle.Cli.Commands;

/// <summary>
/// <c>candle template render &lt;case.json&gt;</c>: renders a chat-template case (a Jinja <c>template</c>,
/// <c>messages</c>, <c>add_generation_prompt</c>, special tokens, <c>now</c>) and prints the prompt exactly,
/// with no added newline; a template error (such as its own <c>raise_exception</c>) goes to stderr with exit code 1.
/// </summary>
internal static class TemplateCommand
{
    public static Command Create(CliContext ctx)
    {
        var file = new Argument<string>("case") { Description = "a JSON file with 'template' and the template's variables (messages, add_generation_prompt, bos_token, eos_token, now, ...)" };
        var render = new Command("render", "Render a Hugging Face chat template case and print the prompt") { file };
        render.SetAction(pr => Render(ctx, pr.GetValue(file)!));
        var cmd = new Command("template", "Chat templates (Hugging Face Jinja)") { render };
        return cmd;
    }

    private static int Render(CliContext ctx, string path)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            ctx.Error.WriteLine($"error: {path}: {e.Message}");
            return 2;
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("template", out var source) || source.ValueKind != JsonValueKind.String)
            {
                ctx.Error.WriteLine($"error: {path}: expected a JSON object with a string 'template'");
                return 2;
            }

            try
            {
                var template = ChatTemplate.Parse(source.GetString()!);
                ctx.Out.Write(template.RenderJson(doc.RootElement));
                ctx.Out.Flush();
                return 0;
            }
            catch (TemplateException e)
            {
                ctx.Error.WriteLine(e.Message);
                return 1;
            }
        }
    }
}
