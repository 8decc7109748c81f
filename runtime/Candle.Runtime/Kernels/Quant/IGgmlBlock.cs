namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// A ggml block format as a static trait: <see cref="BlockSize"/> values are stored in <see cref="BlockBytes"/>
/// bytes, laid out exactly as llama.cpp's <c>block_*</c> structs (little-endian, no padding).
/// Implemented by one struct per <see cref="GgmlType"/>; generic kernels take the struct as a type argument.
/// </summary>
public interface IGgmlBlock
{
    /// <summary>The ggml type this block format stores.</summary>
    static abstract GgmlType Type { get; }

    /// <summary>Number of values in one block.</summary>
    static abstract int BlockSize { get; }

    /// <summary>Number of bytes one block occupies.</summary>
    static abstract int BlockBytes { get; }

    /// <summary>
    /// Dequantizes whole blocks to float32 exactly as llama.cpp's <c>dequantize_row_*</c> does.
    /// </summary>
    /// <param name="src">n blocks: n × <see cref="BlockBytes"/> bytes.</param>
    /// <param name="dst">n × <see cref="BlockSize"/> floats.</param>
    /// <exception cref="ArgumentException">The lengths are not whole blocks or do not agree.</exception>
    static abstract void Dequantize(ReadOnlySpan<byte> src, Span<float> dst);
}
