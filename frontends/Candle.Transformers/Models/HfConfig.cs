using System.Globalization;
using System.Text.Json;

namespace Candle.Transformers.Models;

/// <summary>
/// A Hugging Face <c>config.json</c>, read leniently: typed getters with defaults, aliases for renamed keys,
/// and the rope settings in both the transformers-4 form (<c>rope_theta</c>, <c>rope_scaling</c>) and the
/// transformers-5 form (<c>rope_parameters</c>).
/// </summary>
public sealed class HfConfig
{
    private readonly JsonElement _root;

    private HfConfig(JsonElement root, string path)
    {
        _root = root;
        Path = path;
    }

    /// <summary>The file the config came from.</summary>
    public string Path { get; }

    /// <summary>The <c>model_type</c> value.</summary>
    public string ModelType => GetString("model_type") ?? throw Error("has no 'model_type'");

    /// <summary>Reads <c>config.json</c> from a model directory (or a path to the file itself).</summary>
    /// <exception cref="FileNotFoundException">No config.json.</exception>
    /// <exception cref="InvalidDataException">The file is not a JSON object.</exception>
    public static HfConfig Load(string directoryOrFile)
    {
        string path = Directory.Exists(directoryOrFile) ? System.IO.Path.Combine(directoryOrFile, "config.json") : directoryOrFile;
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no config.json", path);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: config is not a JSON object");
            return new HfConfig(doc.RootElement.Clone(), path);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid JSON: {e.Message}", e);
        }
    }

    /// <summary>Parses config JSON text (for tests and generated models).</summary>
    public static HfConfig Parse(string json, string path = "config.json")
    {
        using var doc = JsonDocument.Parse(json);
        return new HfConfig(doc.RootElement.Clone(), path);
    }

    /// <summary>True when any of the keys is present and not null.</summary>
    public bool Has(params string[] keys) => keys.Any(k => TryGet(k, out _));

    /// <summary>The first present key among <paramref name="keys"/> as an int, or the default.</summary>
    /// <exception cref="InvalidDataException">The value is not an integer or does not fit 32 bits; the message names the file and key.</exception>
    public int GetInt(int defaultValue, params string[] keys) => TryFirst(keys, out var e, out string key) ? ReadInt(e, key) : defaultValue;

    /// <summary>The first present key as an int; throws naming the key when absent.</summary>
    /// <exception cref="InvalidDataException">The key is absent, not an integer or does not fit 32 bits.</exception>
    public int RequireInt(params string[] keys) =>
        TryFirst(keys, out var e, out string key) ? ReadInt(e, key) : throw Error($"has no '{string.Join("' or '", keys)}'");

    /// <summary>The first present key as a long, or the default.</summary>
    public long GetLong(long defaultValue, params string[] keys) => TryFirst(keys, out var e, out string key) ? ReadLong(e, key) : defaultValue;

    /// <summary>The first present key as a double, or the default.</summary>
    /// <exception cref="InvalidDataException">The value is not a finite number; the message names the file and key.</exception>
    public double GetDouble(double defaultValue, params string[] keys)
    {
        if (!TryFirst(keys, out var e, out string key)) return defaultValue;
        if (e.ValueKind != JsonValueKind.Number) throw Error($"'{key}' is not a number: {Shorten(e)}");
        double v = e.GetDouble();
        return double.IsFinite(v) ? v : throw Error($"'{key}' is not a finite number: {Shorten(e)}");
    }

    /// <summary>The first present key as a finite number greater than zero, or the default (epsilons, rope theta).</summary>
    /// <exception cref="InvalidDataException">The value is not a number, not finite or not positive; the message names the file and key.</exception>
    public double GetPositiveDouble(double defaultValue, params string[] keys)
    {
        double v = GetDouble(defaultValue, keys);
        string key = TryFirst(keys, out _, out string k) ? k : keys.FirstOrDefault() ?? "?";
        return v > 0 ? v : throw Error($"'{key}' must be a finite number > 0, got {v.ToString("R", CultureInfo.InvariantCulture)}");
    }

    /// <summary>The first present key as a bool, or the default.</summary>
    public bool GetBool(bool defaultValue, params string[] keys) =>
        TryFirst(keys, out var e, out string key) ? e.ValueKind is JsonValueKind.True or JsonValueKind.False ? e.GetBoolean() : throw Error($"'{key}' is not a bool: {Shorten(e)}") : defaultValue;

    /// <summary>The first present key as a string, or null.</summary>
    public string? GetString(params string[] keys) => TryFirst(keys, out var e) ? e.ValueKind == JsonValueKind.String ? e.GetString() : e.ToString() : null;

    /// <summary>An int or a list of ints (e.g. <c>eos_token_id</c>) as a list; empty when absent.</summary>
    /// <exception cref="InvalidDataException">An entry is not an integer or does not fit 32 bits; the message names the file and key.</exception>
    public IReadOnlyList<int> GetIntList(params string[] keys)
    {
        if (!TryFirst(keys, out var e, out string key)) return [];
        return e.ValueKind == JsonValueKind.Array ? [.. e.EnumerateArray().Select(x => ReadInt(x, key))] : [ReadInt(e, key)];
    }

    /// <summary>A string or a list of strings (e.g. <c>architectures</c>) as a list; empty when absent.</summary>
    /// <exception cref="InvalidDataException">An entry is not a string; the message names the file and key.</exception>
    public IReadOnlyList<string> GetStringList(params string[] keys)
    {
        if (!TryFirst(keys, out var e, out string key)) return [];
        IEnumerable<JsonElement> items = e.ValueKind == JsonValueKind.Array ? e.EnumerateArray() : [e];
        return [.. items.Select(x => x.ValueKind == JsonValueKind.String ? x.GetString()! : throw Error($"'{key}' holds a value that is not a string: {Shorten(x)}"))];
    }

    /// <summary>The names of this object's members (of a nested object such as <c>id2label</c>), in file order.</summary>
    public IReadOnlyList<string> Keys => [.. _root.EnumerateObject().Select(p => p.Name)];

    /// <summary>A nested object (such as <c>rope_scaling</c>), or null.</summary>
    public HfConfig? GetObject(params string[] keys) =>
        TryFirst(keys, out var e) && e.ValueKind == JsonValueKind.Object ? new HfConfig(e, Path) : null;

    /// <summary>
    /// The rope base frequency: <c>rope_parameters.rope_theta</c> (transformers 5) or <c>rope_theta</c> (transformers 4).
    /// </summary>
    /// <exception cref="InvalidDataException">The value is not a finite number &gt; 0; the message names the file and key.</exception>
    public double RopeTheta(double defaultValue = 10000.0)
    {
        double v = GetObject("rope_parameters")?.GetDouble(double.NaN, "rope_theta") is double p && !double.IsNaN(p) ? p : GetDouble(defaultValue, "rope_theta");
        return v > 0 ? v : throw Error($"'rope_theta' must be a finite number > 0, got {v.ToString("R", CultureInfo.InvariantCulture)}");
    }

    /// <summary>
    /// The rope scaling settings (<c>rope_type</c>, <c>factor</c>, ...): <c>rope_parameters</c> (transformers 5) or
    /// <c>rope_scaling</c> (transformers 4); null for plain rope.
    /// </summary>
    public HfConfig? RopeScaling()
    {
        var p = GetObject("rope_parameters") ?? GetObject("rope_scaling");
        if (p is null) return null;
        string type = p.GetString("rope_type", "type") ?? "default";
        return type == "default" ? null : p;
    }

    /// <summary>An error naming the config file.</summary>
    public InvalidDataException Error(string problem) => new($"{Path}: {problem}");

    private bool TryGet(string key, out JsonElement e) =>
        _root.TryGetProperty(key, out e) && e.ValueKind != JsonValueKind.Null;

    private bool TryFirst(string[] keys, out JsonElement e) => TryFirst(keys, out e, out _);

    private bool TryFirst(string[] keys, out JsonElement e, out string key)
    {
        foreach (string k in keys)
        {
            if (TryGet(k, out e))
            {
                key = k;
                return true;
            }
        }

        e = default;
        key = keys.FirstOrDefault() ?? "";
        return false;
    }

    private int ReadInt(JsonElement e, string key)
    {
        long v = ReadLong(e, key);
        return v is >= int.MinValue and <= int.MaxValue ? (int)v : throw Error($"'{key}' is {v}, outside the 32-bit integer range");
    }

    private long ReadLong(JsonElement e, string key)
    {
        if (e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long v)) return v;
        if (e.ValueKind == JsonValueKind.Number)
        {
            double d = e.GetDouble();
            // 2^63 is exactly representable; every double below it in magnitude converts without saturating.
            if (double.IsFinite(d) && d == Math.Floor(d) && Math.Abs(d) < 9.2233720368547758E18) return (long)d;
            if (double.IsFinite(d) && d == Math.Floor(d)) throw Error($"'{key}' is {Shorten(e)}, outside the 32-bit integer range");
        }

        throw Error($"'{key}' is not an integer: {Shorten(e)}");
    }

    /// <summary>A value's JSON text, cut to 40 characters for messages.</summary>
    private static string Shorten(JsonElement e)
    {
        string text = e.GetRawText();
        return text.Length <= 40 ? text : text[..40] + "…";
    }
}
