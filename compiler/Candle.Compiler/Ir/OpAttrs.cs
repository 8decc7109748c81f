using System.Globalization;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Ir;

/// <summary>Attributes of a node. Records compare by value, which is what hash-consing needs.</summary>
public abstract record OpAttrs
{
    /// <summary>The attributes as printed in IR text.</summary>
    public abstract string Describe();
}

/// <summary>Name of a graph input.</summary>
public sealed record InputAttrs(string Name, DType DType, Shape Shape, bool Donated = false) : OpAttrs
{
    /// <inheritdoc/>
    public override string Describe() => Donated ? $"name={Name}, donated" : $"name={Name}";
}

/// <summary>Constant data; compared by reference so weights are never compared byte by byte.</summary>
public sealed record ConstantAttrs(HostTensor Data, string? Name = null) : OpAttrs
{
    /// <inheritdoc/>
    public bool Equals(ConstantAttrs? other) => other is not null && ReferenceEquals(Data, other.Data) && Name == other.Name;

    /// <inheritdoc/>
    public override int GetHashCode() => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(Data);

    /// <inheritdoc/>
    public override string Describe() => Name is null ? "data" : $"name={Name}";
}

/// <summary>A matrix stored in ggml blocks; compared by reference, like <see cref="ConstantAttrs"/>.</summary>
public sealed record QuantConstantAttrs(Candle.Runtime.Kernels.Quant.QuantizedTensor Data) : OpAttrs
{
    /// <inheritdoc/>
    public bool Equals(QuantConstantAttrs? other) => other is not null && ReferenceEquals(Data, other.Data);

    /// <inheritdoc/>
    public override int GetHashCode() => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(Data);

    /// <inheritdoc/>
    public override string Describe() => $"name={Data.Name}, type={Candle.Runtime.Kernels.Quant.GgmlTypeTraits.Name(Data.Type)}";
}

/// <summary>A filled tensor of the given dtype and shape.</summary>
public sealed record FullAttrs(double Value, DType DType, Shape Shape) : OpAttrs
{
    /// <inheritdoc/>
    public override string Describe() => $"value={Value.ToString("R", CultureInfo.InvariantCulture)}";
}

/// <summary>start + step·i for i in [0, Length).</summary>
public sealed record ArangeAttrs(double Start, double Step, Dim Length, DType DType) : OpAttrs
{
    /// <inheritdoc/>
    public override string Describe() => $"start={Start.ToString(CultureInfo.InvariantCulture)}, step={Step.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>
/// The shape of a <see cref="Op.RandomUniform"/> and its stream: draws of one seed in different streams are
/// independent, so the draws of one graph (each dropout of a forward pass) differ although they share the seed input.
/// </summary>
public sealed record RandomUniformAttrs(Shape Shape, long Stream) : OpAttrs
{
    /// <inheritdoc/>
    public override string Describe() => $"stream={Stream.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>Target dtype of a cast.</summary>
public sealed record CastAttrs(DType DType) : OpAttrs
{
    /// <inheritdoc/>
    public override string Describe() => $"to={DType.TorchName()}";
}

/// <summary>Target shape of reshape and expand.</summary>
public sealed record ShapeAttrs(Shape Shape) : OpAttrs
{
    /// <inheritdoc/>
    public override string Describe() => $"shape={Shape}";
}

/// <summary>Axes reduced and whether they are kept as size 1.</summary>
public sealed record ReduceAttrs(IntList Axes, bool KeepDim) : OpAttrs
{
    /// <inheritdoc/>
    public override string Describe() => $"axes={Axes}, keepdim={KeepDim}";
}

/// <summary>One axis (softmax, concat, cumsum, gathers).</summary>
public sealed record AxisAttrs(int Axis) : OpAttrs
{
    /// <inheritdoc/>
    public override string Describe() => $"axis={Axis}";
}

/// <summary>A set of axes (flip).</summary>
public sealed record AxesAttrs(IntList Axes) : OpAttrs
{
    /// <inheritdoc/>
    public override string Describe() => $"axes={Axes}";
}

/// <summary>Axis permutation: output axis i is input axis Perm[i].</summary>
public sealed record PermuteAttrs(IntList Perm) : OpAttrs
{
    /// <inheritdoc/>
    public override string Describe() => $"perm={Perm}";
}

/// <summary>Elements Start, Start+Step, ... below End along Axis (0 ≤ Start ≤ End ≤ dim, Step ≥ 1).</summary>
public sealed record SliceAttrs(int Axis, Dim Start, Dim End, int Step) : OpAttrs
{
    /// <inheritdoc/>
    public override string Describe() => $"axis={Axis}, start={Start}, end={End}, step={Step}";
}

/// <summary>Constant padding before and after each axis.</summary>
public sealed record PadAttrs(IntList Before, IntList After, double Value) : OpAttrs
{
    /// <inheritdoc/>
    public override string Describe() => $"before={Before}, after={After}, value={Value.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>Convolution parameters per spatial dim.</summary>
public sealed record ConvAttrs(IntList Stride, IntList Padding, IntList Dilation, int Groups, IntList OutputPadding, bool HasBias) : OpAttrs
{
    /// <inheritdoc/>
    public override string Describe() =>
        $"stride={Stride}, padding={Padding}, dilation={Dilation}, groups={Groups}" + (OutputPadding.Count > 0 ? $", output_padding={OutputPadding}" : "");
}

/// <summary>Pooling parameters per spatial dim.</summary>
public sealed record PoolAttrs(IntList Kernel, IntList Stride, IntList Padding, bool CountIncludePad) : OpAttrs
{
    /// <inheritdoc/>
    public override string Describe() => $"kernel={Kernel}, stride={Stride}, padding={Padding}";
}

/// <summary>Integer scale per spatial dim.</summary>
public sealed record UpsampleAttrs(IntList Scale) : OpAttrs
{
    /// <inheritdoc/>
    public override string Describe() => $"scale={Scale}";
}

/// <summary>Normalization: epsilon, number of trailing dims normalized (layer norm), groups (group norm), optional affine inputs.</summary>
public sealed record NormAttrs(double Eps, int NormalizedDims, int Groups, bool HasWeight, bool HasBias) : OpAttrs
{
    /// <inheritdoc/>
    public override string Describe() => $"eps={Eps.ToString("R", CultureInfo.InvariantCulture)}" + (Groups > 1 ? $", groups={Groups}" : "");
}

/// <summary>Rotary embedding layout: interleaved pairs (2i, 2i+1) or halves (i, i+D/2) as in rotate_half.</summary>
public sealed record RopeAttrs(bool Interleaved) : OpAttrs
{
    /// <inheritdoc/>
    public override string Describe() => $"interleaved={Interleaved}";
}

/// <summary>
/// Attention: scale applied to QKᵀ; causal masks key j for query i when j &gt; i + (Sk − Sq) (bottom-right
/// aligned, so a one-token decode step sees the whole cache); an optional mask input is additive (float) or keep (bool).
/// </summary>
public sealed record AttentionAttrs(double Scale, bool Causal, bool HasMask) : OpAttrs
{
    /// <inheritdoc/>
    public override string Describe() => $"scale={Scale.ToString("G6", CultureInfo.InvariantCulture)}, causal={Causal}";
}

/// <summary>
/// A fused group: Body's inputs (in order) bind to the node's inputs; the node's value is Body's output
/// <paramref name="Output"/>. A group with several outputs (an elementwise group whose intermediate values are also
/// needed outside it, as an optimizer's new state beside the new parameter) is one node per output, all with the same
/// body and inputs: a backend that fuses them computes the body once and writes every output.
/// </summary>
public sealed record FusedAttrs(Graph Body, string Kind, int Output = 0) : OpAttrs
{
    /// <inheritdoc/>
    public bool Equals(FusedAttrs? other) => other is not null && ReferenceEquals(Body, other.Body) && Kind == other.Kind && Output == other.Output;

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(Body), Kind, Output);

    /// <inheritdoc/>
    public override string Describe() => Body.Outputs.Length > 1 ? $"kind={Kind}, nodes={Body.Nodes.Count}, output={Output}/{Body.Outputs.Length}" : $"kind={Kind}, nodes={Body.Nodes.Count}";
}
