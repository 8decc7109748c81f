using System.Text.Json;
using Candle.Tests;
using Candle.Transformers.Chat;
using Candle.Transformers.Chat.Templates;

namespace Candle.Transformers.Tests.Chat;

/// <summary>
/// Every chat-template case under tests/fixtures/chat-templates renders exactly as Python's jinja2 renders it
/// under transformers' settings (or fails with the template's raise_exception message).
/// </summary>
public sealed class ChatTemplateCaseTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        string root = Path.Combine(Fixtures.Dir, "chat-templates");
        foreach (string f in Directory.GetFiles(root, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(root, f));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Renders_like_transformers(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Fixtures.Dir, "chat-templates", file)));
        var root = doc.RootElement;
        if (root.TryGetProperty("expected", out var expected))
        {
            string rendered = ChatTemplate.Parse(root.GetProperty("template").GetString()!).RenderJson(root);
            Assert.Equal(expected.GetString(), rendered);
        }
        else
        {
            string error = root.GetProperty("expected_error").GetString()!;
            var e = Assert.Throws<TemplateException>(() => ChatTemplate.Parse(root.GetProperty("template").GetString()!).RenderJson(root));
            if (error != "__ANY__") Assert.EndsWith(error, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_shared_sample_has_all_32_cases() =>
        Assert.Equal(32, Directory.GetFiles(Path.Combine(Fixtures.Dir, "chat-templates", "shared"), "*.json").Length);
}
