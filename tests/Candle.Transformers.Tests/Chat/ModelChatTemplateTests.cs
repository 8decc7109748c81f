using System.Text.Json;
using System.Text.Json.Nodes;
using Candle.Runtime.Weights.Gguf;
using Candle.Tests;
using Candle.Transformers.Chat;
using Candle.Transformers.Chat.Templates;
using Candle.Transformers.Generation;

namespace Candle.Transformers.Tests.Chat;

/// <summary>
/// A model's chat template found in its files: tokenizer_config.json (a string or transformers' list of named
/// templates), chat_template.jinja, chat_template.json and GGUF tokenizer.chat_template. The Qwen case's expected
/// prompt was rendered by jinja2 under transformers' settings.
/// </summary>
public sealed class ModelChatTemplateTests
{
    private static JsonObject QwenCase() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Dir, "chat-templates", "shared", "Qwen-Qwen2.5-7B-Instruct.0.json")))!.AsObject();

    private static void WriteConfig(TempDir dir, object config) => File.WriteAllText(dir.File("tokenizer_config.json"), JsonSerializer.Serialize(config));

    private static string Render(ModelChatTemplate t, string user) => t.Template.Apply([new ChatTurn("user", user)], true, t.BosToken, t.EosToken);

    [Fact]
    public void A_string_chat_template_renders_as_jinja2_did()
    {
        var c = QwenCase();
        using var dir = new TempDir();
        WriteConfig(dir, new { chat_template = (string)c["template"]!, bos_token = "<s>", eos_token = "</s>" });
        var t = ModelChatTemplate.TryLoad(dir.Path)!;
        Assert.Equal((string)c["expected"]!, Render(t, (string)c["messages"]![0]!["content"]!));
        Assert.Equal(("<s>", "</s>"), (t.BosToken, t.EosToken));
    }

    [Fact]
    public void Named_templates_give_the_default_or_the_one_asked_for()
    {
        using var dir = new TempDir();
        WriteConfig(dir, new
        {
            bos_token = new { content = "<B>", lstrip = false, special = true },
            eos_token = new { content = "<E>" },
            chat_template = new object[]
            {
                new { name = "tool_use", template = "tools:{{ messages[0].content }}" },
                new { name = "default", template = "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}" },
            },
        });
        var d = ModelChatTemplate.TryLoad(dir.Path)!;
        Assert.Equal("<B>hi<E>", Render(d, "hi"));
        Assert.Equal("tools:hi", Render(ModelChatTemplate.TryLoad(dir.Path, "tool_use")!, "hi"));
        var e = Assert.Throws<InvalidDataException>(() => ModelChatTemplate.TryLoad(dir.Path, "rag"));
        Assert.Contains("tokenizer_config.json", e.Message, StringComparison.Ordinal);
        Assert.Contains("'tool_use', 'default'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Chat_template_jinja_comes_before_tokenizer_config_and_json_after()
    {
        using var dir = new TempDir();
        WriteConfig(dir, new { eos_token = "</s>" });
        Assert.Null(ModelChatTemplate.TryLoad(dir.Path));
        File.WriteAllText(dir.File("chat_template.json"), JsonSerializer.Serialize(new { chat_template = "json:{{ messages[0].content }}" }));
        Assert.Equal("json:x", Render(ModelChatTemplate.TryLoad(dir.Path)!, "x"));
        File.WriteAllText(dir.File("chat_template.jinja"), "jinja:{{ messages[0].content }}{{ eos_token }}");
        Assert.Equal("jinja:x</s>", Render(ModelChatTemplate.TryLoad(dir.Path)!, "x"));
    }

    [Fact]
    public void A_session_for_a_model_uses_its_template_and_tokens()
    {
        using var dir = new TempDir();
        WriteConfig(dir, new { bos_token = "<s>", chat_template = "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}" });
        using var generator = TextGenerator.Load(Fixtures.Model("llama"), "reference");
        var session = ChatSession.ForModel(generator, dir.Path, systemPrompt: "Be brief.");
        Assert.Equal("<s><system>Be brief.<user>hi<assistant>", session.RenderPrompt([new ChatTurn("user", "hi")]));
        File.Delete(dir.File("tokenizer_config.json"));
        var e = Assert.Throws<InvalidDataException>(() => ChatSession.ForModel(generator, dir.Path));
        Assert.Contains("no chat template", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_entries_name_the_file_and_key()
    {
        using var dir = new TempDir();
        WriteConfig(dir, new { chat_template = 42 });
        var e = Assert.Throws<InvalidDataException>(() => ModelChatTemplate.TryLoad(dir.Path));
        Assert.Contains("tokenizer_config.json: chat_template is a Number", e.Message, StringComparison.Ordinal);
        WriteConfig(dir, new { chat_template = new object[] { new { name = "default" } } });
        e = Assert.Throws<InvalidDataException>(() => ModelChatTemplate.TryLoad(dir.Path));
        Assert.Contains("chat_template entry 0", e.Message, StringComparison.Ordinal);
        File.WriteAllText(dir.File("tokenizer_config.json"), "{ not json");
        e = Assert.Throws<InvalidDataException>(() => ModelChatTemplate.TryLoad(dir.Path));
        Assert.Contains("not valid JSON", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_gguf_file_gives_its_template_and_bos_eos_texts()
    {
        var c = QwenCase();
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        new GgufWriter()
            .Add("general.architecture", "llama")
            .Add("tokenizer.chat_template", (string)c["template"]!)
            .Add("tokenizer.chat_template.short", "short:{{ messages[0].content }}")
            .Add("tokenizer.ggml.tokens", GgufValue.From(GgufArray.Of("<unk>", "<s>", "</s>")))
            .Add("tokenizer.ggml.bos_token_id", 1u)
            .Add("tokenizer.ggml.eos_token_id", 2u)
            .Write(path);
        var t = ModelChatTemplate.TryLoad(path)!;
        Assert.Equal((string)c["expected"]!, Render(t, (string)c["messages"]![0]!["content"]!));
        Assert.Equal(("<s>", "</s>"), (t.BosToken, t.EosToken));
        Assert.Equal("short:x", Render(ModelChatTemplate.TryLoad(path, "short")!, "x"));
        Assert.Throws<InvalidDataException>(() => ModelChatTemplate.TryLoad(path, "long"));
    }
}
