namespace Candle.Runtime.Weights.Gguf;

/// <summary>
/// The row permutation llama.cpp's converter applies to Llama's Q and K projections, and its inverse.
/// </summary>
/// <remarks>
/// <c>convert_hf_to_gguf.py</c> reorders the rows of <c>q_proj</c> (with the attention head count) and <c>k_proj</c>
/// (with the key-value head count) by <c>w.reshape(n_head, 2, rows // n_head // 2, *rest).swapaxes(1, 2).reshape(w.shape)</c>:
/// within each head of d rows, the rotate-half pairing of Hugging Face (row i with row i + d/2) becomes ggml's adjacent
/// pairing (rows 2i and 2i + 1). So GGUF row h·d + 2i + s holds Hugging Face row h·d + s·d/2 + i (s ∈ {0, 1}).
/// Rows are whole blocks of a GGUF tensor, so the inverse applies exactly to dequantized weights.
/// </remarks>
public static class LlamaRopePermutation
{
    /// <summary>Undoes the converter's permutation: GGUF row order → Hugging Face row order.</summary>
    /// <param name="rows">A row-major [rows, cols] matrix (or a bias, cols = 1) in GGUF order.</param>
    /// <param name="rowCount">The number of rows; a multiple of 2·<paramref name="headCount"/>.</param>
    /// <param name="headCount">The number of heads the converter used (attention heads for Q, key-value heads for K).</param>
    /// <returns>A new array in Hugging Face order.</returns>
    public static float[] Unpermute(ReadOnlySpan<float> rows, int rowCount, int headCount) => Apply(rows, rowCount, headCount, inverse: true);

    /// <summary>Applies the converter's permutation: Hugging Face row order → GGUF row order.</summary>
    /// <inheritdoc cref="Unpermute"/>
    public static float[] Permute(ReadOnlySpan<float> rows, int rowCount, int headCount) => Apply(rows, rowCount, headCount, inverse: false);

    /// <summary>Undoes the permutation on stored rows of any element or block type (a quantized matrix's rows are whole blocks).</summary>
    /// <param name="rows">A row-major matrix of <paramref name="rowCount"/> equal rows of bytes, in GGUF order.</param>
    /// <param name="rowCount">The number of rows; a multiple of 2·<paramref name="headCount"/>.</param>
    /// <param name="headCount">The number of heads the converter used.</param>
    /// <returns>A new array in Hugging Face order.</returns>
    public static byte[] UnpermuteRows(ReadOnlySpan<byte> rows, int rowCount, int headCount) => Apply(rows, rowCount, headCount, inverse: true);

    private static T[] Apply<T>(ReadOnlySpan<T> src, int rowCount, int headCount, bool inverse)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(headCount);
        ArgumentOutOfRangeException.ThrowIfNegative(rowCount);
        if (rowCount % (2 * headCount) != 0)
        {
            throw new ArgumentException($"{rowCount} rows do not split into {headCount} heads of an even number of rows", nameof(rowCount));
        }

        if (rowCount == 0 ? src.Length != 0 : src.Length % rowCount != 0)
        {
            throw new ArgumentException($"{src.Length} values are not {rowCount} equal rows", nameof(src));
        }

        int cols = rowCount == 0 ? 0 : src.Length / rowCount;
        int headDim = rowCount / headCount;
        int half = headDim / 2;
        var dst = new T[src.Length];
        for (int h = 0; h < headCount; h++)
        {
            for (int i = 0; i < half; i++)
            {
                for (int s = 0; s < 2; s++)
                {
                    int ggufRow = h * headDim + 2 * i + s;
                    int hfRow = h * headDim + s * half + i;
                    int from = inverse ? ggufRow : hfRow;
                    int to = inverse ? hfRow : ggufRow;
                    src.Slice(from * cols, cols).CopyTo(dst.AsSpan(to * cols, cols));
                }
            }
        }

        return dst;
    }
}
