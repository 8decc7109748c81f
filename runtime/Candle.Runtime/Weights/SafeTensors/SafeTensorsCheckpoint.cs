namespace Candle.Runtime.Weights.SafeTensors;

/// <summary>Opens the safetensors weights of a model folder, whether in one file or sharded.</summary>
public static class SafeTensorsCheckpoint
{
    /// <summary>The single-file checkpoint name Hugging Face uses.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>The index name of a sharded Hugging Face checkpoint.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    /// <summary>
    /// Opens a checkpoint. A folder opens its <c>model.safetensors</c>, or else its
    /// <c>model.safetensors.index.json</c>; a file ending in <c>.json</c> opens as a shard index; any other file
    /// opens as one safetensors file.
    /// </summary>
    /// <param name="directoryOrFile">A model folder, a safetensors file or an index file.</param>
    /// <exception cref="FileNotFoundException">The path does not exist, or the folder has neither file.</exception>
    /// <exception cref="SafeTensorsFormatException">A file is malformed; the message names it.</exception>
    public static ISafeTensorsSource Open(string directoryOrFile)
    {
        ArgumentException.ThrowIfNullOrEmpty(directoryOrFile);
        if (Directory.Exists(directoryOrFile))
        {
            string single = Path.Combine(directoryOrFile, SingleFileName);
            if (File.Exists(single))
            {
                return SafeTensorsFile.Open(single);
            }

            string index = Path.Combine(directoryOrFile, IndexFileName);
            if (File.Exists(index))
            {
                return ShardedSafeTensors.Open(index);
            }

            throw new FileNotFoundException(
                $"{directoryOrFile}: holds neither {SingleFileName} nor {IndexFileName}", single);
        }

        if (!File.Exists(directoryOrFile))
        {
            throw new FileNotFoundException($"{directoryOrFile}: no such file or folder", directoryOrFile);
        }

        return directoryOrFile.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            ? ShardedSafeTensors.Open(directoryOrFile)
            : SafeTensorsFile.Open(directoryOrFile);
    }
}
