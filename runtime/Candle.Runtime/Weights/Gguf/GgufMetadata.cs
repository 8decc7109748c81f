using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace Candle.Runtime.Weights.Gguf;

/// <summary>
/// The metadata key-value pairs of a GGUF file, in file order, with typed getters. A getter for a missing key throws
/// <see cref="KeyNotFoundException"/>; one whose key holds another type throws <see cref="GgufFormatException"/>; both
/// messages name the file and the key.
/// </summary>
public sealed class GgufMetadata : IReadOnlyDictionary<string, GgufValue>
{
    private readonly Dictionary<string, GgufValue> _byKey;
    private readonly string[] _keys;

    internal GgufMetadata(string filePath, IReadOnlyList<KeyValuePair<string, GgufValue>> pairs)
    {
        FilePath = filePath;
        _byKey = new Dictionary<string, GgufValue>(pairs.Count, StringComparer.Ordinal);
        _keys = new string[pairs.Count];
        for (int i = 0; i < pairs.Count; i++)
        {
            _keys[i] = pairs[i].Key;
            _byKey.Add(pairs[i].Key, pairs[i].Value);
        }
    }

    /// <summary>The file the metadata came from, named in exception messages.</summary>
    public string FilePath { get; }

    /// <summary>The keys in file order.</summary>
    public IEnumerable<string> Keys => _keys;

    /// <summary>The values in file order.</summary>
    public IEnumerable<GgufValue> Values => _keys.Select(k => _byKey[k]);

    /// <summary>The number of pairs.</summary>
    public int Count => _keys.Length;

    /// <summary>The value of a key.</summary>
    /// <exception cref="KeyNotFoundException">No such key; the message names the file and the key.</exception>
    public GgufValue this[string key] => _byKey.TryGetValue(key, out var v) ? v : throw Missing(key);

    /// <inheritdoc/>
    public bool ContainsKey(string key) => _byKey.ContainsKey(key);

    /// <inheritdoc/>
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out GgufValue value) => _byKey.TryGetValue(key, out value);

    /// <summary>A string value.</summary>
    public string GetString(string key) => Get<string>(key, GgufValueType.String);

    /// <summary>A UInt32 value.</summary>
    public uint GetUInt32(string key) => Get<uint>(key, GgufValueType.UInt32);

    /// <summary>An Int32 value.</summary>
    public int GetInt32(string key) => Get<int>(key, GgufValueType.Int32);

    /// <summary>A UInt64 value.</summary>
    public ulong GetUInt64(string key) => Get<ulong>(key, GgufValueType.UInt64);

    /// <summary>An Int64 value.</summary>
    public long GetInt64(string key) => Get<long>(key, GgufValueType.Int64);

    /// <summary>A Float32 value.</summary>
    public float GetFloat32(string key) => Get<float>(key, GgufValueType.Float32);

    /// <summary>A Float64 value.</summary>
    public double GetFloat64(string key) => Get<double>(key, GgufValueType.Float64);

    /// <summary>A Bool value.</summary>
    public bool GetBool(string key) => Get<bool>(key, GgufValueType.Bool);

    /// <summary>An array value.</summary>
    public GgufArray GetArray(string key) => Get<GgufArray>(key, GgufValueType.Array);

    /// <summary>An array of strings (such as <c>tokenizer.ggml.tokens</c>).</summary>
    public IReadOnlyList<string> GetStringArray(string key) => ArrayOf(key, GgufValueType.String).AsStrings();

    /// <summary>An array of Float32 (such as <c>tokenizer.ggml.scores</c>).</summary>
    public ReadOnlySpan<float> GetFloat32Array(string key) => ArrayOf(key, GgufValueType.Float32).AsSpan<float>();

    /// <summary>An array of Int32 (such as <c>tokenizer.ggml.token_type</c>).</summary>
    public ReadOnlySpan<int> GetInt32Array(string key) => ArrayOf(key, GgufValueType.Int32).AsSpan<int>();

    /// <summary>An integer of any width as a long (writers differ in the widths they use for counts).</summary>
    public long GetInteger(string key)
    {
        var v = this[key];
        if (!v.IsInteger || (v.Value is ulong u && u > long.MaxValue))
        {
            throw WrongType(key, v, "an integer");
        }

        return v.ToInt64();
    }

    /// <summary>An integer of any width, or false when the key is absent.</summary>
    public bool TryGetInteger(string key, out long value)
    {
        value = 0;
        if (!_byKey.ContainsKey(key))
        {
            return false;
        }

        value = GetInteger(key);
        return true;
    }

    /// <summary>A number of any type (integer or float) as a double.</summary>
    public double GetNumber(string key)
    {
        var v = this[key];
        return v.IsInteger || v.Type is GgufValueType.Float32 or GgufValueType.Float64 ? v.ToDouble() : throw WrongType(key, v, "a number");
    }

    /// <summary>A string, or false when the key is absent.</summary>
    public bool TryGetString(string key, [NotNullWhen(true)] out string? value)
    {
        value = _byKey.ContainsKey(key) ? GetString(key) : null;
        return value is not null;
    }

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, GgufValue>> GetEnumerator() =>
        _keys.Select(k => KeyValuePair.Create(k, _byKey[k])).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private T Get<T>(string key, GgufValueType type)
    {
        var v = this[key];
        return v.Type == type ? (T)v.Value : throw WrongType(key, v, type.ToString());
    }

    private GgufArray ArrayOf(string key, GgufValueType elementType)
    {
        var a = GetArray(key);
        return a.ElementType == elementType ? a : throw new GgufFormatException(FilePath, null, key, $"is an array of {a.ElementType}, not of {elementType}");
    }

    private GgufFormatException WrongType(string key, GgufValue v, string expected) =>
        new(FilePath, null, key, $"holds a {v.Type}, not {expected}");

    private KeyNotFoundException Missing(string key) => new($"{FilePath}: no metadata key '{GgufFormatException.Shorten(key)}'");
}
