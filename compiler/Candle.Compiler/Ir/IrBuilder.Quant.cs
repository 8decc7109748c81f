using Candle.Runtime.Kernels.Quant;

namespace Candle.Compiler.Ir;

public static partial class IrBuilder
{
    /// <summary>A constant matrix stored in ggml blocks (not copied, not dequantized); its value is its exact dequantization.</summary>
    public static Node QuantConstant(QuantizedTensor data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Node.Create(Op.QuantConstant, [], new QuantConstantAttrs(data));
    }

    /// <summary>
    /// x·wᵀ for float32 activations x [..., k] and a quantized constant w [n, k] (a linear layer's weight as stored):
    /// [..., n] in float32.
    /// </summary>
    /// <exception cref="IrException">w is not a quantized constant, x is not float32, or its last dimension is not k; the message names the tensor.</exception>
    public static Node QuantMatMul(Node x, Node w)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(w);
        return Node.Create(Op.QuantMatMul, null, x, w);
    }

    /// <summary>Rows of a quantized constant table w [rows, cols] at integer <paramref name="ids"/>: ids.shape + [cols] in float32.</summary>
    /// <exception cref="IrException">w is not a quantized constant or the ids are not integers.</exception>
    public static Node QuantEmbedding(Node w, Node ids)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(ids);
        return Node.Create(Op.QuantEmbedding, null, w, ids);
    }
}
