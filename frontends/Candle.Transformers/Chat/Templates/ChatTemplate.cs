using System.Collections;
using System.Globalization;
using System.Text.Json;

using Candle.Transformers.Chat;

namespace Candle.Transformers.Chat.Templates;

/// <summary>
/// A Hugging Face chat template (the Jinja source in <c>tokenizer_config.json</c>'s <c>chat_template</c> or a
/// GGUF file's <c>tokenizer.chat_template</c>), parsed once and rendered the way transformers'
/// <c>apply_chat_template(..., tokenize=False)</c> renders it: Jinja with <c>trim_blocks</c> and
/// <c>lstrip_blocks</c>, loop controls, a <c>tojson</c> that keeps non-ASCII text, and the globals
/// <c>raise_exception</c> and <c>strftime_now</c>. The interpreter is sandboxed: a template reads its data and
/// nothing else.
/// </summary>
public sealed class ChatTemplate
{
    private readonly List<JinjaNode> _body;

    private ChatTemplate(string source, List<JinjaNode> body)
    {
        Source = source;
        _body = body;
    }

    /// <summary>The template's Jinja source.</summary>
    public string Source { get; }

    /// <summary>Parses <paramref name="source"/>.</summary>
    /// <exception cref="TemplateException">The template has a syntax error (the message names the line).</exception>
    public static ChatTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var tokens = JinjaLexer.Tokenize(source, trimBlocks: true, lstripBlocks: true);
        return new ChatTemplate(source, JinjaParser.Parse(tokens));
    }

    /// <summary>
    /// Renders a conversation. <paramref name="messages"/> are dictionaries with at least <c>role</c> and
    /// <c>content</c> (or <see cref="ChatTurn"/>s); <paramref name="variables"/> adds further template variables
    /// (<c>tools</c>, <c>documents</c>, <c>enable_thinking</c>, ...).
    /// </summary>
    /// <exception cref="TemplateException">Rendering failed, or the template called <c>raise_exception</c>.</exception>
    public string Apply(
        IEnumerable<ChatTurn> messages,
        bool addGenerationPrompt = true,
        string? bosToken = null,
        string? eosToken = null,
        IReadOnlyDictionary<string, object?>? variables = null,
        DateTime? now = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var vars = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["messages"] = messages.Select(m => (object?)new Dictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content }).ToList(),
            ["add_generation_prompt"] = addGenerationPrompt,
        };
        if (bosToken is not null) vars["bos_token"] = bosToken;
        if (eosToken is not null) vars["eos_token"] = eosToken;
        if (variables is not null)
        {
            foreach (var kv in variables) vars[kv.Key] = kv.Value;
        }

        return Render(vars, now);
    }

    /// <summary>
    /// Renders with the given variables. Values may be null, bool, integers, floating-point numbers, strings,
    /// <see cref="JsonElement"/>s, dictionaries with string keys, and sequences of these. <c>tools</c> and
    /// <c>documents</c> default to none, as transformers passes them.
    /// </summary>
    /// <param name="variables">The template's variables.</param>
    /// <param name="now">The time <c>strftime_now</c> formats; the current local time when null.</param>
    /// <exception cref="TemplateException">Rendering failed, or the template called <c>raise_exception</c>.</exception>
    public string Render(IReadOnlyDictionary<string, object?> variables, DateTime? now = null)
    {
        ArgumentNullException.ThrowIfNull(variables);
        var globals = new JinjaScope(null);
        JinjaGlobals.Install(globals, now ?? DateTime.Now);
        globals.Set("tools", null);
        globals.Set("documents", null);
        foreach (var kv in variables) globals.Set(kv.Key, ToValue(kv.Value, 0));
        var interpreter = new JinjaInterpreter(globals);
        try
        {
            return interpreter.RenderBody(_body, new JinjaScope(globals));
        }
        catch (InvalidOperationException e)
        {
            throw new TemplateException(e.Message, e);
        }
    }

    /// <summary>Renders a case object: every property except <c>template</c>, <c>expected</c>, <c>expected_error</c> and <c>now</c> becomes a variable; <c>now</c> (ISO 8601) is the time <c>strftime_now</c> formats.</summary>
    public string RenderJson(JsonElement context)
    {
        var vars = new Dictionary<string, object?>(StringComparer.Ordinal);
        DateTime? now = null;
        foreach (var p in context.EnumerateObject())
        {
            switch (p.Name)
            {
                case "template" or "expected" or "expected_error":
                    break;
                case "now":
                    now = DateTime.Parse(p.Value.GetString() ?? string.Empty, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
                    break;
                default:
                    vars[p.Name] = p.Value;
                    break;
            }
        }

        return Render(vars, now);
    }

    private static object? ToValue(object? v, int depth)
    {
        if (depth > 256) throw new TemplateException("template variable nested too deeply");
        switch (v)
        {
            case null: return null;
            case string or bool or long or double: return v;
            case int or short or byte or sbyte or ushort or uint: return Convert.ToInt64(v, CultureInfo.InvariantCulture);
            case float f: return (double)f;
            case decimal m: return (double)m;
            case JsonElement e: return JinjaJson.FromJson(e);
            case ChatTurn t: return ToValue(new Dictionary<string, object?> { ["role"] = t.Role, ["content"] = t.Content }, depth + 1);
            case IDictionary dict:
            {
                var d = new JinjaDict();
                foreach (DictionaryEntry kv in dict) d.Set(ToValue(kv.Key, depth + 1) ?? throw new TemplateException("dictionary keys cannot be null"), ToValue(kv.Value, depth + 1));
                return d;
            }

            case IEnumerable<KeyValuePair<string, object?>> pairs:
            {
                var d = new JinjaDict();
                foreach (var kv in pairs) d.Set(kv.Key, ToValue(kv.Value, depth + 1));
                return d;
            }

            case IEnumerable seq: return seq.Cast<object?>().Select(x => ToValue(x, depth + 1)).ToList();
            default: throw new TemplateException($"template variables of type {v.GetType().Name} are not supported");
        }
    }
}
