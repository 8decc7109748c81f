namespace Candle.Compiler.Passes;

/// <summary>The <see cref="Ir.FusedAttrs.Kind"/> values <see cref="Fusion"/> produces.</summary>
public static class FusedKinds
{
    /// <summary>Elementwise ops over one iteration space (fills inlined as literals): one loop.</summary>
    public const string Elementwise = "elementwise";

    /// <summary>One reduction with elementwise producers (its input's shape) and consumers (its output's shape).</summary>
    public const string Reduce = "reduce";

    /// <summary>
    /// Reductions over the trailing axes of one row shape whose results are broadcast back over the reduced axes and
    /// combined elementwise with the row (rms norm, softmax, layer norm, log-softmax written from primitives): one
    /// kernel per row, a pass over the row per dependent reduction and a last pass writing the output.
    /// </summary>
    public const string ReduceBroadcast = "reduce_broadcast";

    /// <summary>One matmul whose result feeds elementwise ops of its shape (bias, activation, residual, scale).</summary>
    public const string MatMulEpilogue = "matmul_epilogue";

    /// <summary>
    /// One quantized product (<see cref="Ir.Op.QuantMatMul"/>, its quantized weight inlined in the body) whose result
    /// feeds elementwise ops of its shape (bias, activation, residual, a gated MLP's product with its other branch).
    /// </summary>
    public const string QuantMatMulEpilogue = "quant_matmul_epilogue";

    /// <summary>
    /// One float32 convolution whose result feeds a ReLU, a residual add of its shape, or the add then the ReLU: the
    /// convolution's tiles take them as they are finished.
    /// </summary>
    public const string ConvEpilogue = "conv_epilogue";

    /// <summary>
    /// Not a group of its own: an elementwise group may have several outputs (graph outputs used otherwise only inside
    /// the group), computed by one kernel that writes each. A backend that does not list it gets one group per output.
    /// </summary>
    public const string MultiOutput = "multi_output";

    /// <summary>Scaled dot-product attention as one flash-style kernel.</summary>
    public const string Attention = "attention";
}
