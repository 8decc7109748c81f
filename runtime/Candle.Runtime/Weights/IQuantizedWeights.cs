using System.Diagnostics.CodeAnalysis;
using Candle.Runtime.Kernels.Quant;

namespace Candle.Runtime.Weights;

/// <summary>A checkpoint that can hand out matrices in their stored ggml block format instead of dequantizing them.</summary>
public interface IQuantizedWeights
{
    /// <summary>
    /// The matrix <paramref name="name"/> as stored, when it is a 2-d tensor in a block-quantized ggml type with
    /// quantized kernels (<see cref="QuantizedTensor.IsSupported"/>); false for anything else (float tensors, vectors,
    /// unsupported types), which the caller then reads dequantized.
    /// </summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    bool TryGetQuantized(string name, [NotNullWhen(true)] out QuantizedTensor? tensor);
}
