namespace Candle.Runtime.Kernels.Quant;

/// <summary>A block format that can be produced from float32 with llama.cpp's reference rounding (<c>quantize_row_*_ref</c>).</summary>
public interface IGgmlQuantizer : IGgmlBlock
{
    /// <summary>Quantizes whole blocks, bit-for-bit as llama.cpp's reference quantizer does.</summary>
    /// <param name="src">n × <see cref="IGgmlBlock.BlockSize"/> floats.</param>
    /// <param name="dst">n × <see cref="IGgmlBlock.BlockBytes"/> bytes.</param>
    /// <exception cref="ArgumentException">The lengths are not whole blocks or do not agree.</exception>
    static abstract void Quantize(ReadOnlySpan<float> src, Span<byte> dst);
}
