namespace Candle.Compiler.Ir;

/// <summary>
/// Every operation of the IR. <see cref="OpInfo"/> tells each op's group (elementwise, reduce, movement...),
/// which is what rewrite rules and backends match on. Composite ops (softmax, norms, attention, conv...)
/// are first-class so passes can pick fast kernels; <c>DecomposeComposites</c> lowers them to primitives.
/// </summary>
public enum Op
{
    // ---- leaves
    /// <summary>A graph input; attrs: <see cref="InputAttrs"/>.</summary>
    Input,
    /// <summary>A constant tensor (a weight or literal); attrs: <see cref="ConstantAttrs"/>.</summary>
    Constant,
    /// <summary>A tensor filled with one value; attrs: <see cref="FullAttrs"/>.</summary>
    Full,
    /// <summary>start + step * i for i in [0, n); attrs: <see cref="ArangeAttrs"/>.</summary>
    Arange,

    // ---- unary elementwise
    /// <summary>-x.</summary>
    Neg,
    /// <summary>|x|.</summary>
    Abs,
    /// <summary>e^x.</summary>
    Exp,
    /// <summary>ln x.</summary>
    Log,
    /// <summary>√x.</summary>
    Sqrt,
    /// <summary>1/√x.</summary>
    Rsqrt,
    /// <summary>sin x.</summary>
    Sin,
    /// <summary>cos x.</summary>
    Cos,
    /// <summary>tanh x.</summary>
    Tanh,
    /// <summary>1/(1+e^-x).</summary>
    Sigmoid,
    /// <summary>max(x, 0).</summary>
    Relu,
    /// <summary>x·Φ(x) with the exact erf form.</summary>
    Gelu,
    /// <summary>GELU's tanh approximation (gelu_new, gelu_pytorch_tanh).</summary>
    GeluTanh,
    /// <summary>x·sigmoid(x).</summary>
    Silu,
    /// <summary>The error function.</summary>
    Erf,
    /// <summary>Round toward −∞.</summary>
    Floor,
    /// <summary>Round toward +∞.</summary>
    Ceil,
    /// <summary>Round half to even.</summary>
    Round,
    /// <summary>−1, 0 or 1 (NaN stays NaN).</summary>
    Sign,
    /// <summary>1/x.</summary>
    Reciprocal,
    /// <summary>Logical not of a bool tensor.</summary>
    LogicalNot,
    /// <summary>Conversion to the node's dtype (floats to ints truncate toward zero).</summary>
    Cast,

    // ---- binary elementwise (inputs share shape and dtype)
    /// <summary>a + b.</summary>
    Add,
    /// <summary>a − b.</summary>
    Sub,
    /// <summary>a · b.</summary>
    Mul,
    /// <summary>a / b (true division; integer division is <see cref="FloorDiv"/>).</summary>
    Div,
    /// <summary>floor(a / b), PyTorch's floor_divide.</summary>
    FloorDiv,
    /// <summary>a − b·floor(a/b), PyTorch's remainder (sign of the divisor).</summary>
    Remainder,
    /// <summary>a^b.</summary>
    Pow,
    /// <summary>Elementwise maximum, NaN propagating.</summary>
    Maximum,
    /// <summary>Elementwise minimum, NaN propagating.</summary>
    Minimum,
    /// <summary>a == b (bool result).</summary>
    Eq,
    /// <summary>a != b (bool result).</summary>
    Ne,
    /// <summary>a &lt; b (bool result).</summary>
    Lt,
    /// <summary>a ≤ b (bool result).</summary>
    Le,
    /// <summary>a &gt; b (bool result).</summary>
    Gt,
    /// <summary>a ≥ b (bool result).</summary>
    Ge,
    /// <summary>Logical and of bool tensors.</summary>
    LogicalAnd,
    /// <summary>Logical or of bool tensors.</summary>
    LogicalOr,

    // ---- ternary
    /// <summary>cond ? a : b; cond is bool, a and b share dtype; all share shape.</summary>
    Where,

    // ---- reductions; attrs: ReduceAttrs
    /// <summary>Sum over axes.</summary>
    Sum,
    /// <summary>Mean over axes.</summary>
    Mean,
    /// <summary>Maximum over axes (NaN propagating).</summary>
    Max,
    /// <summary>Minimum over axes (NaN propagating).</summary>
    Min,
    /// <summary>Product over axes.</summary>
    Prod,
    /// <summary>Index of the first maximum along one axis (int64).</summary>
    ArgMax,
    /// <summary>Index of the first minimum along one axis (int64).</summary>
    ArgMin,
    /// <summary>Inclusive prefix sum along one axis; attrs: AxisAttrs.</summary>
    CumSum,

    // ---- linear algebra
    /// <summary>[..., M, K] × [..., K, N] → [..., M, N]; batch dims equal (broadcasting is made explicit by expand).</summary>
    MatMul,

    // ---- movement (views until materialized)
    /// <summary>Same elements, new shape; attrs: ShapeAttrs.</summary>
    Reshape,
    /// <summary>Axis permutation; attrs: PermuteAttrs.</summary>
    Permute,
    /// <summary>Broadcast size-1 dims; attrs: ShapeAttrs.</summary>
    Expand,
    /// <summary>Strided slice along one axis; attrs: SliceAttrs.</summary>
    Slice,
    /// <summary>Concatenation along one axis; attrs: AxisAttrs.</summary>
    Concat,
    /// <summary>Constant padding; attrs: PadAttrs.</summary>
    Pad,
    /// <summary>Reverse along axes; attrs: AxesAttrs.</summary>
    Flip,
    /// <summary>numpy.take: x.shape[:axis] + index.shape + x.shape[axis+1:]; covers index_select and embedding; attrs: AxisAttrs.</summary>
    IndexSelect,
    /// <summary>torch.gather: out[i][j] = x[index[i][j]][j] along axis; attrs: AxisAttrs.</summary>
    Gather,
    /// <summary>A copy of input 0 with the slice described by SliceAttrs replaced by input 1 (torch.slice_scatter).</summary>
    SliceScatter,
    /// <summary>torch.scatter_add (out-of-place); inputs x, index, src; attrs: AxisAttrs.</summary>
    ScatterAdd,

    // ---- composites
    /// <summary>Softmax along one axis; attrs: AxisAttrs.</summary>
    Softmax,
    /// <summary>Log-softmax along one axis; attrs: AxisAttrs.</summary>
    LogSoftmax,
    /// <summary>N-d convolution (NC* layout); inputs x, w[, bias]; attrs: ConvAttrs.</summary>
    Conv,
    /// <summary>N-d transposed convolution; inputs x, w[, bias]; attrs: ConvAttrs.</summary>
    ConvTranspose,
    /// <summary>Max pooling; attrs: PoolAttrs.</summary>
    MaxPool,
    /// <summary>Average pooling; attrs: PoolAttrs.</summary>
    AvgPool,
    /// <summary>Nearest-neighbour upsampling by integer factors of the spatial dims; attrs: UpsampleAttrs.</summary>
    UpsampleNearest,
    /// <summary>Layer norm over the last dims; inputs x[, weight][, bias]; attrs: NormAttrs.</summary>
    LayerNorm,
    /// <summary>RMS norm over the last dim; inputs x[, weight]; attrs: NormAttrs.</summary>
    RmsNorm,
    /// <summary>Group norm over (C/groups, *spatial); inputs x[, weight][, bias]; attrs: NormAttrs.</summary>
    GroupNorm,
    /// <summary>Rotary embedding; inputs x [..., D], cos, sin [..., D/2]; attrs: RopeAttrs.</summary>
    Rope,
    /// <summary>Scaled dot-product attention; inputs q, k, v[, mask]; attrs: AttentionAttrs.</summary>
    Attention,

    /// <summary>A fused group: the attrs hold the body graph, whose inputs bind to this node's inputs.</summary>
    Fused,
}
