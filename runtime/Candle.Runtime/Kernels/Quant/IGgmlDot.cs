namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// Dot products of a row of blocks with activations, the inner loop of a quantized matrix-vector product.
/// </summary>
public interface IGgmlDot : IGgmlBlock
{
    /// <summary>The dot product of n blocks with n × <see cref="IGgmlBlock.BlockSize"/> float32 activations.</summary>
    /// <exception cref="ArgumentException">The lengths are not whole blocks or do not agree.</exception>
    static abstract float Dot(ReadOnlySpan<byte> row, ReadOnlySpan<float> x);

    /// <summary>
    /// The dot product of n blocks with activations quantized to n Q8_0 blocks (see <see cref="BlockQ8_0.Quantize"/>),
    /// computed as llama.cpp's <c>ggml_vec_dot_*_q8_0</c>: an exact integer sum per block, scaled by both block scales.
    /// </summary>
    /// <exception cref="ArgumentException">The lengths are not whole blocks or do not agree.</exception>
    static abstract float DotQ8_0(ReadOnlySpan<byte> row, ReadOnlySpan<byte> xQ8);
}
