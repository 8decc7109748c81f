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
    public int GetInt(int defaultValue, params string[] keys) => (int)GetLong(defaultValue, keys);

    /// <summary>The first present key as an int; throws naming the key when absent.</summary>
    public int RequireInt(params string[] keys) =>
        TryFirst(keys, out var e) ? checked((int)ReadLong(e, keys[0])) : throw Error($"has no '{string.Join("' or '", keys)}'");

    /// <summary>The first present key as a long, or the default.</summary>
    public long GetLong(long defaultValue, params string[] keys) => TryFirst(keys, out var e) ? ReadLong(e, keys[0]) : defaultValue;

    /// <summary>The first present key as a double, or the default.</summary>
    public double GetDouble(double defaultValue, params string[] keys) =>
        TryFirst(keys, out var e) ? e.ValueKind == JsonValueKind.Number ? e.GetDouble() : throw Error($"'{keys[0]}' is not a number") : defaultValue;

    /// <summary>The first present key as a bool, or the default.</summary>
    public bool GetBool(bool defaultValue, params string[] keys) =>
        TryFirst(keys, out var e) ? e.ValueKind is JsonValueKind.True or JsonValueKind.False ? e.GetBoolean() : throw Error($"'{keys[0]}' is not a bool") : defaultValue;

    /// <summary>The first present key as a string, or null.</summary>
    public string? GetString(params string[] keys) => TryFirst(keys, out var e) ? e.ValueKind == JsonValueKind.String ? e.GetString() : e.ToString() : null;

    /// <summary>An int or a list of ints (e.g. <c>eos_token_id</c>) as a list; empty when absent.</summary>
    public IReadOnlyList<int> GetIntList(params string[] keys)
    {
        if (!TryFirst(keys, out var e)) return [];
        return e.ValueKind == JsonValueKind.Array ? [.. e.EnumerateArray().Select(x => x.GetInt32())] : [e.GetInt32()];
    }

    /// <summary>A nested object (such as <c>rope_scaling</c>), or null.</summary>
    public HfConfig? GetObject(params string[] keys) =>
        TryFirst(keys, out var e) && e.ValueKind == JsonValueKind.Object ? new HfConfig(e, Path) : null;

    /// <summary>
    /// The rope base frequency: <c>rope_parameters.rope_theta</c> (transformers 5) or <c>rope_theta</c> (transformers 4).
    /// </summary>
    public double RopeTheta(double defaultValue = 10000.0) =>
        GetObject("rope_parameters")?.GetDouble(double.NaN, "rope_theta") is double v && !double.IsNaN(v) ? v : GetDouble(defaultValue, "rope_theta");

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

    private bool TryFirst(string[] keys, out JsonElement e)
    {
        foreach (string k in keys)
        {
            if (TryGet(k, out e)) return true;
        }

        e = default;
        return false;
    }

    private long ReadLong(JsonElement e, string key)
    {
        if (e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long v)) return v;
        if (e.ValueKind == JsonValueKind.Number && e.GetDouble() == Math.Floor(e.GetDouble())) return (long)e.GetDouble();
        throw Error($"'{key}' is not an integer: {e.ToString().ToString(CultureInfo.InvariantCulture)}");
    }
}
