using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;

namespace Candle.Runtime.Weights.Gguf;

/// <summary>
/// A llama-architecture GGUF file seen as a Hugging Face <c>LlamaForCausalLM</c> checkpoint: tensors under their
/// Hugging Face names (<see cref="LlamaGgufNames"/>), dequantized to float32 in PyTorch's shapes, with the Q/K row
/// permutation of llama.cpp's converter undone (<see cref="LlamaRopePermutation"/>). A model loader consumes it like a
/// safetensors checkpoint.
/// </summary>
/// <remarks>
/// <see cref="GetInfo"/> describes the float32 tensor that <see cref="Get"/> returns; its <see cref="TensorInfo.Offset"/>
/// is where the stored (possibly quantized) data lies in the GGUF file. Each <see cref="Get"/> dequantizes anew.
/// Tensors without a Hugging Face counterpart are listed in <see cref="UnmappedNames"/>.
/// </remarks>
public sealed class GgufLlamaCheckpoint : ISafeTensorsSource, IQuantizedWeights
{
    private readonly bool _ownsFile;
    private readonly Dictionary<string, string> _hfToGguf = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TensorInfo> _infos = new(StringComparer.Ordinal);
    private readonly List<string> _names = [];
    private readonly List<string> _unmapped = [];

    /// <summary>Wraps an open GGUF file.</summary>
    /// <param name="file">A file whose <c>general.architecture</c> is <c>llama</c>.</param>
    /// <param name="ownsFile">Whether <see cref="Dispose"/> disposes the file.</param>
    /// <exception cref="NotSupportedException">The architecture is not llama.</exception>
    /// <exception cref="GgufFormatException">The head counts are missing or do not fit the Q/K shapes.</exception>
    public GgufLlamaCheckpoint(GgufFile file, bool ownsFile = true)
    {
        ArgumentNullException.ThrowIfNull(file);
        File = file;
        _ownsFile = ownsFile;
        string arch = file.Architecture ?? "(none)";
        if (arch != "llama")
        {
            throw new NotSupportedException($"{file.Path}: architecture '{arch}' is not llama; only llama GGUF files map to Hugging Face Llama names");
        }

        const string HeadKey = "llama.attention.head_count";
        const string KvKey = "llama.attention.head_count_kv";
        HeadCount = file.Metadata.TryGetInteger(HeadKey, out long heads) ? checked((int)heads) : 0;
        KeyValueHeadCount = file.Metadata.TryGetInteger(KvKey, out long kv) ? checked((int)kv) : HeadCount;
        if (HeadCount <= 0 || KeyValueHeadCount <= 0)
        {
            throw new GgufFormatException(file.Path, null, HeadKey, $"head counts {HeadCount} and {KeyValueHeadCount} must be positive to undo the Q/K permutation");
        }

        foreach (var t in file.Tensors)
        {
            if (!LlamaGgufNames.TryToHuggingFace(t.Name, out string? hf))
            {
                _unmapped.Add(t.Name);
                continue;
            }

            int heads2 = PermutationHeads(hf);
            if (heads2 > 0 && (t.Shape.Count is < 1 or > 2 || t.Shape[0] % (2 * heads2) != 0))
            {
                throw new GgufFormatException(file.Path, t.Name, null,
                    $"shape [{string.Join(", ", t.Shape)}] does not split into {heads2} heads of an even number of rows");
            }

            _hfToGguf.Add(hf, t.Name);
            _names.Add(hf);
            _infos.Add(hf, new TensorInfo(hf, DType.F32, t.ShapeArray(), t.FileOffset, checked(t.ElementCount * sizeof(float))));
        }
    }

    /// <summary>Opens a GGUF file as a Hugging Face Llama checkpoint.</summary>
    /// <exception cref="GgufFormatException">The file is malformed.</exception>
    /// <exception cref="NotSupportedException">The architecture is not llama.</exception>
    public static GgufLlamaCheckpoint Open(string path)
    {
        var file = GgufFile.Open(path);
        try
        {
            return new GgufLlamaCheckpoint(file, ownsFile: true);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The underlying GGUF file.</summary>
    public GgufFile File { get; }

    /// <summary>The attention head count (<c>llama.attention.head_count</c>), used to un-permute Q.</summary>
    public int HeadCount { get; }

    /// <summary>The key-value head count (<c>llama.attention.head_count_kv</c>, or the head count), used to un-permute K.</summary>
    public int KeyValueHeadCount { get; }

    /// <summary>The Hugging Face names, in GGUF file order.</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>GGUF tensors with no Hugging Face counterpart (such as <c>rope_freqs.weight</c>).</summary>
    public IReadOnlyList<string> UnmappedNames => _unmapped;

    /// <summary>The GGUF file's scalar metadata as invariant-culture strings (arrays are left out).</summary>
    public IReadOnlyDictionary<string, string> Metadata => field ??= File.Metadata
        .Where(p => p.Value.Type != GgufValueType.Array)
        .ToDictionary(p => p.Key, p => p.Value.ToString(), StringComparer.Ordinal);

    /// <inheritdoc/>
    public bool Contains(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _hfToGguf.ContainsKey(name);
    }

    /// <summary>The GGUF name behind a Hugging Face name.</summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    public string GgufName(string name) => _hfToGguf.TryGetValue(name, out var g) ? g : throw Missing(name);

    /// <inheritdoc/>
    public TensorInfo GetInfo(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _infos.TryGetValue(name, out var info) ? info : throw Missing(name);
    }

    /// <summary>The tensor dequantized to float32 in its Hugging Face shape and row order (owning its memory).</summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    /// <exception cref="NotSupportedException">The tensor's ggml type has no dequantizer.</exception>
    public HostTensor Get(string name)
    {
        string gguf = GgufName(name);
        var tensor = File.Dequantize(gguf);
        int bad = FirstNonFinite(tensor.AsSpan<float>());
        if (bad >= 0)
        {
            throw new GgufFormatException(File.Path, gguf, null,
                string.Create(CultureInfo.InvariantCulture, $"element {bad} dequantizes to {tensor.AsSpan<float>()[bad]} (a NaN or infinite value or scale)"));
        }

        int heads = PermutationHeads(name);
        if (heads == 0)
        {
            return tensor;
        }

        // The reordered rows go back into the dequantized tensor, which stays the only full copy.
        float[] rows = LlamaRopePermutation.Unpermute(tensor.AsSpan<float>(), tensor.Shape[0], heads);
        rows.CopyTo(tensor.AsSpan<float>());
        return tensor;
    }

    /// <summary>
    /// A block-quantized 2-d tensor as stored, in its Hugging Face shape [out, in]: a view of the mapped file, or, for
    /// the Q and K projections, a copy of the blocks with llama.cpp's row permutation undone (rows are whole blocks).
    /// </summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    public bool TryGetQuantized(string name, [NotNullWhen(true)] out QuantizedTensor? tensor)
    {
        string gguf = GgufName(name);
        var info = File.GetInfo(gguf);
        tensor = null;
        if (info.Shape.Count != 2 || info.Type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 || !QuantizedTensor.IsSupported(info.Type))
        {
            return false;
        }

        int rows = info.Shape[0], cols = info.Shape[1];
        ReadOnlyMemory<byte> mapped = File.GetRawData(gguf);
        ReadOnlyMemory<byte> data = mapped;
        int heads = PermutationHeads(name);
        if (heads > 0)
        {
            data = LlamaRopePermutation.UnpermuteRows(data.Span, rows, heads);
        }

        try
        {
            tensor = new QuantizedTensor(info.Type, rows, cols, data, name);
        }
        catch (ArgumentException e)
        {
            throw new GgufFormatException(File.Path, gguf, null, e.Message);
        }

        if (tensor.FirstNonFiniteScale() is >= 0 and long block)
        {
            throw new GgufFormatException(File.Path, gguf, null,
                string.Create(CultureInfo.InvariantCulture, $"block {block} has a NaN or infinite scale"));
        }

        // The scan (or the permuted copy) read every page of the mapped blocks; hand them back so that only the pages
        // the kernels read stay resident: all of a matrix once it is multiplied, the looked-up rows of an embedding
        // table, nothing of a permuted original. Reading them again faults them in from the page cache.
        Memory.MappedMemoryManager.DropResidentPages(mapped);
        return true;
    }

    /// <summary>Disposes the GGUF file when this checkpoint owns it.</summary>
    public void Dispose()
    {
        if (_ownsFile)
        {
            File.Dispose();
        }
    }

    private static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i])) return i;
        }

        return -1;
    }

    private int PermutationHeads(string hfName) =>
        hfName.EndsWith(".self_attn.q_proj.weight", StringComparison.Ordinal) || hfName.EndsWith(".self_attn.q_proj.bias", StringComparison.Ordinal) ? HeadCount
        : hfName.EndsWith(".self_attn.k_proj.weight", StringComparison.Ordinal) || hfName.EndsWith(".self_attn.k_proj.bias", StringComparison.Ordinal) ? KeyValueHeadCount
        : 0;

    private KeyNotFoundException Missing(string name) => new($"{File.Path}: no tensor named '{GgufFormatException.Shorten(name)}'");

    /// <inheritdoc/>
    public override string ToString() => $"GgufLlamaCheckpoint({File.Path}, {_names.Count} tensors)";
}
