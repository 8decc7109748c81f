using System.Text.Json;
using Candle.Runtime.Weights.Gguf;

namespace Candle.Transformers.Chat.Templates;

/// <summary>
/// A model's own chat template with the BOS and EOS token texts its template sees, found where transformers and
/// llama.cpp look: in a model directory <c>chat_template.jinja</c>, then <c>tokenizer_config.json</c>'s
/// <c>chat_template</c> (a string, or a list of <c>{"name", "template"}</c> from which <c>default</c> or the named one is
/// taken), then <c>chat_template.json</c>; in a GGUF file <c>tokenizer.chat_template</c> (or
/// <c>tokenizer.chat_template.NAME</c>). BOS and EOS come from <c>tokenizer_config.json</c>'s <c>bos_token</c> and
/// <c>eos_token</c> (strings or added-token objects), or from a GGUF file's token list.
/// </summary>
/// <param name="Template">The parsed template.</param>
/// <param name="BosToken">The BOS token text, or null.</param>
/// <param name="EosToken">The EOS token text, or null.</param>
/// <param name="Origin">Where it was found (file, and key or name).</param>
public sealed record ModelChatTemplate(ChatTemplate Template, string? BosToken, string? EosToken, string Origin)
{
    private const long MaxJsonBytes = 64L << 20;

    /// <summary>The chat template of a model directory or GGUF file, or null when it has none.</summary>
    /// <param name="modelPath">A Hugging Face model directory or a GGUF file.</param>
    /// <param name="name">The name of one of several named templates (null: the one named <c>default</c>).</param>
    /// <exception cref="InvalidDataException">A file holds a malformed template entry, or several named templates and none is <paramref name="name"/> (the message lists them); it names the file and key.</exception>
    /// <exception cref="TemplateException">The template does not parse.</exception>
    public static ModelChatTemplate? TryLoad(string modelPath, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        if (File.Exists(modelPath)) return modelPath.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) ? FromGguf(modelPath, name) : null;
        if (!Directory.Exists(modelPath)) throw new DirectoryNotFoundException($"{modelPath}: no such model directory or file");
        string config = Path.Combine(modelPath, "tokenizer_config.json");
        JsonDocument? doc = File.Exists(config) ? ReadJson(config) : null;
        using (doc)
        {
            string? bos = doc is null ? null : TokenText(config, doc.RootElement, "bos_token");
            string? eos = doc is null ? null : TokenText(config, doc.RootElement, "eos_token");
            string jinja = Path.Combine(modelPath, "chat_template.jinja");
            if (File.Exists(jinja)) return new(ChatTemplate.Parse(File.ReadAllText(jinja)), bos, eos, jinja);
            if (doc is not null && doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("chat_template", out var entry) && entry.ValueKind != JsonValueKind.Null)
            {
                var (source, which) = Select(config, entry, name);
                return new(ChatTemplate.Parse(source), bos, eos, $"{config} chat_template{which}");
            }

            string json = Path.Combine(modelPath, "chat_template.json");
            if (File.Exists(json))
            {
                using var separate = ReadJson(json);
                if (separate.RootElement.ValueKind == JsonValueKind.Object && separate.RootElement.TryGetProperty("chat_template", out var e2))
                {
                    var (source, which) = Select(json, e2, name);
                    return new(ChatTemplate.Parse(source), bos, eos, $"{json} chat_template{which}");
                }

                throw new InvalidDataException($"{json}: no 'chat_template' key");
            }
        }

        return null;
    }

    private static ModelChatTemplate? FromGguf(string path, string? name)
    {
        using var file = GgufFile.Open(path);
        string key = name is null or "default" ? "tokenizer.chat_template" : $"tokenizer.chat_template.{name}";
        if (!file.Metadata.TryGetValue(key, out var value))
        {
            if (name is null) return null;
            throw new InvalidDataException($"{path}: no chat template named '{name}' (no key {key})");
        }

        if (value.Type != GgufValueType.String) throw new InvalidDataException($"{path}: {key} is a {value.Type}, not a string");
        string? Token(string idKey)
        {
            if (!file.Metadata.TryGetValue(idKey, out var id) || !file.Metadata.TryGetValue("tokenizer.ggml.tokens", out var tokens) || tokens.Value is not GgufArray array) return null;
            long index = id.Value switch { uint u => u, int i => i, ulong ul => (long)Math.Min(ul, long.MaxValue), long l => l, _ => -1 };
            if (index < 0 || index >= array.Count) throw new InvalidDataException($"{path}: {idKey} = {index} is outside the {array.Count} tokens");
            return array.AsStrings()[(int)index];
        }

        return new(ChatTemplate.Parse((string)value.Value), Token("tokenizer.ggml.bos_token_id"), Token("tokenizer.ggml.eos_token_id"), $"{path} {key}");
    }

    private static (string Source, string Which) Select(string file, JsonElement entry, string? name)
    {
        if (entry.ValueKind == JsonValueKind.String)
        {
            if (name is not null and not "default") throw new InvalidDataException($"{file}: chat_template is a single template, there is none named '{name}'");
            return (entry.GetString()!, string.Empty);
        }

        if (entry.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"{file}: chat_template is a {entry.ValueKind}, not a string or a list of named templates");
        var named = new List<(string Name, string Template)>();
        foreach (var item in entry.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object
                || !item.TryGetProperty("name", out var n) || n.ValueKind != JsonValueKind.String
                || !item.TryGetProperty("template", out var t) || t.ValueKind != JsonValueKind.String)
            {
                throw new InvalidDataException($"{file}: chat_template entry {named.Count} is not an object with string 'name' and 'template'");
            }

            named.Add((n.GetString()!, t.GetString()!));
        }

        string wanted = name ?? "default";
        foreach (var (n, t) in named)
        {
            if (n == wanted) return (t, $" '{n}'");
        }

        throw new InvalidDataException($"{file}: chat_template has no template named '{wanted}'; it has {string.Join(", ", named.Select(x => $"'{x.Name}'"))}");
    }

    private static string? TokenText(string file, JsonElement root, string key)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty(key, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Null => null,
            JsonValueKind.Object when v.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            _ => throw new InvalidDataException($"{file}: {key} is neither a string nor an added token with a 'content' string"),
        };
    }

    private static JsonDocument ReadJson(string path)
    {
        long length = new FileInfo(path).Length;
        if (length > MaxJsonBytes) throw new InvalidDataException($"{path}: {length} bytes, more than a tokenizer config may have ({MaxJsonBytes})");
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON: {e.Message}", e);
        }
    }
}
