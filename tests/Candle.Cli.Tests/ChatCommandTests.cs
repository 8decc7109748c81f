using System.Text.Json;
using Candle.Cli;
using Candle.Tests;
using Candle.Transformers.Generation;

namespace Candle.Cli.Tests;

/// <summary>
/// <c>candle chat</c> driven through a redirected standard input on the llama reference model, whose directory gets a
/// tokenizer_config.json with named chat templates: each reply is the greedy continuation of the prompt the template
/// gives for the history (rendered here by hand), and the history carries the earlier turns.
/// </summary>
public sealed class ChatCommandTests : IDisposable
{
    private const string Template = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}";
    private readonly string _dir = Directory.CreateTempSubdirectory("candle-chat-").FullName;

    public ChatCommandTests()
    {
        foreach (string f in new[] { "config.json", "generation_config.json", "model.safetensors", "tokenizer.model" })
        {
            File.Copy(Path.Combine(Fixtures.Model("llama"), f), Path.Combine(_dir, f));
        }

        var config = new
        {
            bos_token = new { content = "<s>", lstrip = false },
            eos_token = "</s>",
            chat_template = new object[] { new { name = "default", template = Template }, new { name = "tool_use", template = "tools" } },
        };
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"), JsonSerializer.Serialize(config));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (int Code, string Out, string Err) Chat(string stdin, params string[] extra)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CandleCli.Run(["chat", _dir, "-n", "4", "--device", "reference", .. extra], new StringReader(stdin), stdout, stderr, progress: false);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Replies_are_greedy_continuations_of_the_templated_history()
    {
        var (code, output, err) = Chat("hello there\nhow are you\n");
        Assert.True(code == 0, err);

        using var generator = TextGenerator.Load(_dir, "reference");
        var options = new GenerationOptions { MaxNewTokens = 4, StopTokens = [.. generator.Shape.EosTokenIds] };
        var first = generator.Generate("[user] hello there\n[assistant] ", options);
        string firstInHistory = generator.Tokenizer!.Decode(first.GeneratedIds) ?? string.Empty;
        var second = generator.Generate($"[user] hello there\n[assistant] {firstInHistory}\n[user] how are you\n[assistant] ", options);
        Assert.Equal(4, first.GeneratedIds.Count);
        Assert.Equal($"{first.Text}\n{second.Text}\n", output);
    }

    [Fact]
    public void A_gguf_file_chats_with_its_own_tokenizer_and_chat_template()
    {
        // The tiny llama as GGUF (quantize keeps the tokenizer), with the template stored as tokenizer.chat_template.
        string q8 = Path.Combine(_dir, "q8.gguf");
        Candle.Transformers.Quantization.GgufQuantizer.Quantize(_dir, q8, Candle.Transformers.Quantization.QuantizePreset.Parse("Q8_0"));
        string path = Path.Combine(_dir, "chat.gguf");
        using (var source = Candle.Runtime.Weights.Gguf.GgufFile.Open(q8))
        {
            var w = new Candle.Runtime.Weights.Gguf.GgufWriter();
            foreach (var (key, value) in source.Metadata) w.Add(key, value);
            w.Add("tokenizer.chat_template", Template);
            foreach (var t in source.Tensors) w.AddTensor(t.Name, t.Type, [.. t.GgmlDims], source.GetRawData(t.Name).ToArray());
            w.Write(path);
        }

        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CandleCli.Run(["chat", path, "-n", "4", "--device", "reference"], new StringReader("hello there\n"), stdout, stderr, progress: false);
        Assert.True(code == 0, stderr.ToString());

        using var generator = TextGenerator.Load(path, "reference");
        var expected = generator.Generate("[user] hello there\n[assistant] ", new GenerationOptions { MaxNewTokens = 4, StopTokens = [.. generator.Shape.EosTokenIds] });
        Assert.Equal($"{expected.Text}\n", stdout.ToString());
    }

    [Fact]
    public void Reset_forgets_the_conversation()
    {
        var (code, output, err) = Chat("hello there\n/reset\nhello there\n/exit\nnot read\n");
        Assert.True(code == 0, err);
        var lines = output.Split('\n');
        Assert.Equal("(conversation cleared)", lines[1]);
        Assert.Equal(lines[0], lines[2]);
        Assert.Equal(4, lines.Length);
    }

    [Fact]
    public void A_model_without_a_chat_template_is_a_one_line_error()
    {
        File.Delete(Path.Combine(_dir, "tokenizer_config.json"));
        var (code, _, err) = Chat("hello\n");
        Assert.Equal(1, code);
        Assert.Contains("no chat template", err, StringComparison.Ordinal);
        Assert.Contains("--template", err, StringComparison.Ordinal);
    }

    [Fact]
    public void A_template_file_overrides_the_models()
    {
        string file = Path.Combine(_dir, "plain.jinja");
        File.WriteAllText(file, "{% for m in messages %}{{ m.content }}{% endfor %}");
        var (code, output, err) = Chat("hello there\n", "--template", file);
        Assert.True(code == 0, err);
        using var generator = TextGenerator.Load(_dir, "reference");
        var expected = generator.Generate("hello there", new GenerationOptions { MaxNewTokens = 4, StopTokens = [.. generator.Shape.EosTokenIds] });
        Assert.Equal(expected.Text + "\n", output);
    }
}
