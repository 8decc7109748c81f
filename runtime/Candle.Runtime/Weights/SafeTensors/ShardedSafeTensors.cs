using System.Text.Json;
using System.Text.Unicode;
using Candle.Runtime.Tensors;

namespace Candle.Runtime.Weights.SafeTensors;

/// <summary>
/// A checkpoint split over several safetensors files, listed by an index such as
/// <c>model.safetensors.index.json</c>: <c>{"metadata": {...}, "weight_map": {"tensor name": "shard file", ...}}</c>.
/// Each shard is opened once; every name of the weight map is checked against its shard on <see cref="Open"/>.
/// </summary>
/// <remarks>Tensors keep their shard's mapping alive as described on <see cref="SafeTensorsFile"/>.</remarks>
public sealed class ShardedSafeTensors : ISafeTensorsSource
{
    /// <summary>The largest index file accepted (the same bound as a safetensors header).</summary>
    private const long MaxIndexLength = SafeTensorsHeader.MaxHeaderLength;

    private readonly Dictionary<string, SafeTensorsFile> _shardOf;
    private readonly SafeTensorsFile[] _shards;

    private ShardedSafeTensors(string indexPath, string[] names, Dictionary<string, SafeTensorsFile> shardOf,
        SafeTensorsFile[] shards, Dictionary<string, string> metadata)
    {
        IndexPath = indexPath;
        Names = Array.AsReadOnly(names);
        _shardOf = shardOf;
        _shards = shards;
        Shards = Array.AsReadOnly(shards);
        Metadata = metadata;
    }

    /// <summary>The index file the checkpoint was opened from.</summary>
    public string IndexPath { get; }

    /// <summary>The tensor names, in the order of the index's weight map.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>
    /// The index's <c>metadata</c> object; string values as they are, other values (such as
    /// <c>total_size</c>) as their JSON text. Empty when the index has none.
    /// </summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The shard files, in the order the weight map first names them.</summary>
    public IReadOnlyList<SafeTensorsFile> Shards { get; }

    /// <summary>Opens an index file and every shard it names, and checks that each tensor is in its shard.</summary>
    /// <param name="indexPath">The index file, such as <c>model.safetensors.index.json</c>; shard names are relative to its folder.</param>
    /// <exception cref="SafeTensorsFormatException">
    /// The index is malformed, names a shard that does not exist or lies outside its folder, or maps a tensor to a
    /// shard that lacks it (the message names the index file); or a shard is malformed (the message names the shard).
    /// </exception>
    public static ShardedSafeTensors Open(string indexPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(indexPath);
        var (weightMap, metadata) = ReadIndex(indexPath);
        string directory = Path.GetFullPath(Path.GetDirectoryName(Path.GetFullPath(indexPath)) ?? ".");
        var byFile = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        var shards = new List<SafeTensorsFile>();
        try
        {
            var shardOf = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
            foreach (var (name, file) in weightMap)
            {
                if (!byFile.TryGetValue(file, out var shard))
                {
                    string shardPath = ResolveShard(indexPath, directory, name, file);
                    shard = SafeTensorsFile.Open(shardPath);
                    byFile.Add(file, shard);
                    shards.Add(shard);
                }

                if (!shard.Contains(name))
                {
                    throw new SafeTensorsFormatException(indexPath, name,
                        $"the weight map puts it in '{SafeTensorsFormatException.Shorten(file, 200)}', which has no tensor of that name");
                }

                shardOf.Add(name, shard);
            }

            string[] names = new string[weightMap.Count];
            for (int i = 0; i < names.Length; i++)
            {
                names[i] = weightMap[i].Key;
            }

            return new ShardedSafeTensors(indexPath, names, shardOf, [.. shards], metadata);
        }
        catch
        {
            foreach (var shard in shards)
            {
                shard.Dispose();
            }

            throw;
        }
    }

    /// <summary>True when the weight map names that tensor.</summary>
    public bool Contains(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _shardOf.ContainsKey(name);
    }

    /// <summary>The shard that holds a tensor.</summary>
    /// <exception cref="KeyNotFoundException">The weight map has no tensor of that name.</exception>
    public SafeTensorsFile GetShard(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!_shardOf.TryGetValue(name, out var shard))
        {
            throw new KeyNotFoundException($"{IndexPath}: no tensor named '{SafeTensorsFormatException.Shorten(name, 200)}'");
        }

        return shard;
    }

    /// <summary>The dtype, shape and location of a tensor; <see cref="TensorInfo.Offset"/> is within its shard (<see cref="GetShard"/>).</summary>
    /// <exception cref="KeyNotFoundException">The weight map has no tensor of that name.</exception>
    public TensorInfo GetInfo(string name) => GetShard(name).GetInfo(name);

    /// <summary>The tensor as a zero-copy view of its memory-mapped shard (see <see cref="SafeTensorsFile.Get"/>).</summary>
    /// <exception cref="KeyNotFoundException">The weight map has no tensor of that name.</exception>
    public HostTensor Get(string name) => GetShard(name).Get(name);

    /// <summary>Disposes every shard (see <see cref="SafeTensorsFile.Dispose"/> for tensors still in use).</summary>
    public void Dispose()
    {
        foreach (var shard in _shards)
        {
            shard.Dispose();
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"ShardedSafeTensors({IndexPath}, {Names.Count} tensors in {_shards.Length} shards)";

    private static string ResolveShard(string indexPath, string directory, string tensor, string file)
    {
        string shown = SafeTensorsFormatException.Shorten(file, 200);
        if (file.Length == 0 || Path.IsPathRooted(file) || file.Contains('\0', StringComparison.Ordinal))
        {
            throw new SafeTensorsFormatException(indexPath, tensor, $"shard name '{shown}' is not a relative file name");
        }

        string full = Path.GetFullPath(Path.Combine(directory, file));
        string root = directory.EndsWith(Path.DirectorySeparatorChar) ? directory : directory + Path.DirectorySeparatorChar;
        if (!full.StartsWith(root, StringComparison.Ordinal))
        {
            throw new SafeTensorsFormatException(indexPath, tensor, $"shard '{shown}' lies outside the index's folder");
        }

        if (!File.Exists(full))
        {
            throw new SafeTensorsFormatException(indexPath, tensor, $"shard file '{shown}' does not exist");
        }

        return full;
    }

    private static (List<KeyValuePair<string, string>> WeightMap, Dictionary<string, string> Metadata) ReadIndex(string indexPath)
    {
        byte[] bytes;
        using (var stream = new FileStream(indexPath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1))
        {
            long length = stream.Length;
            if (length > MaxIndexLength)
            {
                throw new SafeTensorsFormatException(indexPath, null,
                    $"the index is {length} bytes, more than the {MaxIndexLength}-byte limit");
            }

            bytes = new byte[length];
            stream.ReadExactly(bytes);
        }

        if (!Utf8.IsValid(bytes))
        {
            throw new SafeTensorsFormatException(indexPath, null, "the index is not valid UTF-8");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw new SafeTensorsFormatException(indexPath, null, $"the index is not valid JSON ({e.Message})", e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new SafeTensorsFormatException(indexPath, null, "the index is not a JSON object");
            }

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            if (root.TryGetProperty("metadata", out var meta) && meta.ValueKind != JsonValueKind.Null)
            {
                if (meta.ValueKind != JsonValueKind.Object)
                {
                    throw new SafeTensorsFormatException(indexPath, null, "'metadata' is not a JSON object");
                }

                foreach (var entry in meta.EnumerateObject())
                {
                    metadata[entry.Name] = entry.Value.ValueKind == JsonValueKind.String
                        ? entry.Value.GetString()!
                        : entry.Value.GetRawText();
                }
            }

            if (!root.TryGetProperty("weight_map", out var map))
            {
                throw new SafeTensorsFormatException(indexPath, null, "'weight_map' is missing");
            }

            if (map.ValueKind != JsonValueKind.Object)
            {
                throw new SafeTensorsFormatException(indexPath, null, "'weight_map' is not a JSON object");
            }

            var weightMap = new List<KeyValuePair<string, string>>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                {
                    throw new SafeTensorsFormatException(indexPath, entry.Name, "the weight map's value is not a file name string");
                }

                if (!seen.Add(entry.Name))
                {
                    throw new SafeTensorsFormatException(indexPath, entry.Name, "the name appears twice in the weight map");
                }

                weightMap.Add(new(entry.Name, entry.Value.GetString()!));
            }

            return (weightMap, metadata);
        }
    }
}
