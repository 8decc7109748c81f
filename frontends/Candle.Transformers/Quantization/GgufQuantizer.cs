using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Weights.Gguf;

namespace Candle.Transformers.Quantization;

/// <summary>One step of <see cref="GgufQuantizer.Quantize"/>: tensor <see cref="Index"/> of <see cref="Count"/> was written as <see cref="Type"/>.</summary>
/// <param name="Index">1-based position of the tensor.</param>
/// <param name="Count">Number of tensors.</param>
/// <param name="Name">The GGUF tensor name.</param>
/// <param name="Type">The type it was written as.</param>
public readonly record struct QuantizeProgress(int Index, int Count, string Name, GgmlType Type);

/// <summary>What <see cref="GgufQuantizer.Quantize"/> wrote.</summary>
/// <param name="Tensors">Number of tensors.</param>
/// <param name="SourceBytes">Bytes of tensor data in the source's stored types.</param>
/// <param name="OutputBytes">Bytes of tensor data written.</param>
/// <param name="Types">How many tensors each type has in the output.</param>
public sealed record QuantizeResult(int Tensors, long SourceBytes, long OutputBytes, IReadOnlyDictionary<GgmlType, int> Types);

/// <summary>
/// Writes a llama-architecture model (a GGUF file, or a Hugging Face Llama directory converted as llama.cpp's converter
/// does) as a quantized GGUF file with llama.cpp's per-tensor type choices (<see cref="QuantizePreset"/>) and its
/// reference quantizers, so llama.cpp's <c>llama-quantize</c> on the same input writes the same tensor types and, for
/// the legacy types, Q4_K and Q6_K, the same bytes. Metadata is copied, with <c>general.file_type</c> and
/// <c>general.quantization_version</c> set.
/// </summary>
public static class GgufQuantizer
{
    /// <summary>Quantizes <paramref name="input"/> (a <c>.gguf</c> file or a Hugging Face model directory) into <paramref name="output"/>.</summary>
    /// <param name="input">The source model.</param>
    /// <param name="output">The GGUF file to write (replaced).</param>
    /// <param name="preset">The target mix.</param>
    /// <param name="pure">Give every quantizable weight the preset's type (llama-quantize's <c>--pure</c>).</param>
    /// <param name="progress">Called after each tensor.</param>
    /// <exception cref="FileNotFoundException">The input does not exist.</exception>
    /// <exception cref="NotSupportedException">The input is not a llama-architecture model, or holds a type that cannot be dequantized.</exception>
    /// <exception cref="InvalidDataException">A tensor's rows fit neither the chosen type nor its fallback; the message names it.</exception>
    public static QuantizeResult Quantize(string input, string output, QuantizePreset preset, bool pure = false, Action<QuantizeProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(preset);
        using var source = Directory.Exists(input) ? HfLlamaSource.Open(input)
            : File.Exists(input) ? QuantizeSource.FromGguf(input)
            : throw new FileNotFoundException($"{input}: no such GGUF file or model directory", input);
        if (Path.GetFullPath(input) == Path.GetFullPath(output))
        {
            throw new ArgumentException($"{output}: the output must not be the input file", nameof(output));
        }

        return Write(source, input, output, preset, pure, progress);
    }

    private static QuantizeResult Write(QuantizeSource source, string input, string output, QuantizePreset preset, bool pure, Action<QuantizeProgress>? progress)
    {
        var meta = source.Metadata.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        string arch = meta.TryGetValue("general.architecture", out var a) && a.Value is string s ? s
            : throw new NotSupportedException($"{input}: no general.architecture key; only llama-architecture models can be quantized");
        int layers = (int)Integer(meta, input, $"{arch}.block_count");
        int heads = (int)Integer(meta, input, $"{arch}.attention.head_count");
        int kvHeads = meta.ContainsKey($"{arch}.attention.head_count_kv") ? (int)Integer(meta, input, $"{arch}.attention.head_count_kv") : heads;
        int experts = meta.ContainsKey($"{arch}.expert_count") ? (int)Integer(meta, input, $"{arch}.expert_count") : 0;
        var tensors = source.Tensors.OrderBy(t => t.Name, Comparer<string>.Create(LlamaTensorTypes.Compare)).ToList();
        var chooser = new LlamaTensorTypes(preset, pure, layers, heads, kvHeads, experts, tensors.Select(t => t.Name));

        var writer = new GgufWriter();
        if (meta.TryGetValue("general.alignment", out var align)) writer.Alignment = (int)align.ToInt64();
        foreach (var (key, value) in source.Metadata)
        {
            if (key is "general.file_type" or "general.quantization_version") continue;
            writer.Add(key, value);
        }

        writer.Add("general.quantization_version", 2u);
        writer.Add("general.file_type", (uint)preset.FileType);
        var counts = new Dictionary<GgmlType, int>();
        long sourceBytes = 0;
        long outputBytes = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            var type = chooser.Choose(t.Name, t.GgmlDims, t.Type);
            ReadOnlyMemory<byte> data;
            if (type == t.Type)
            {
                data = t.Raw();
            }
            else
            {
                float[] values = t.Float32();
                var bytes = new byte[GgmlTypeTraits.ByteCount(type, values.Length)];
                QuantizeRows(type, values, bytes);
                data = bytes;
            }

            sourceBytes += GgmlTypeTraits.ByteCount(t.Type, t.GgmlDims.Aggregate(1L, (x, y) => x * y));
            outputBytes += data.Length;
            writer.AddTensor(t.Name, type, t.GgmlDims, data);
            counts[type] = counts.GetValueOrDefault(type) + 1;
            progress?.Invoke(new QuantizeProgress(i + 1, tensors.Count, t.Name, type));
        }

        string dir = Path.GetDirectoryName(Path.GetFullPath(output))!;
        Directory.CreateDirectory(dir);
        writer.Write(output);
        return new QuantizeResult(tensors.Count, sourceBytes, outputBytes, counts);
    }

    /// <summary>Quantizes in chunks of whole blocks on the worker threads (each block depends only on its own values).</summary>
    private static void QuantizeRows(GgmlType type, float[] values, byte[] bytes)
    {
        int blockSize = GgmlTypeTraits.BlockSize(type);
        int blockBytes = GgmlTypeTraits.BlockBytes(type);
        int blocks = values.Length / blockSize;
        const int ChunkBlocks = 256;
        int chunks = (blocks + ChunkBlocks - 1) / ChunkBlocks;
        Parallel.For(0, chunks, c =>
        {
            int first = c * ChunkBlocks;
            int n = Math.Min(ChunkBlocks, blocks - first);
            GgmlTypeTraits.Quantize(type, values.AsSpan(first * blockSize, n * blockSize), bytes.AsSpan(first * blockBytes, n * blockBytes));
        });
    }

    private static long Integer(Dictionary<string, GgufValue> meta, string input, string key) =>
        meta.TryGetValue(key, out var v) && v.IsInteger ? v.ToInt64()
        : throw new InvalidDataException($"{input}: metadata key '{key}' is missing or not an integer");
}
