using Candle.Runtime.Kernels.Cpu;
using Candle.Runtime.Kernels.Cpu.Ops;

namespace Candle.Compiler.Ir;

/// <summary>
/// Every operation of the IR, each declared here once: its attribute names its group (leaf, unary, binary,
/// reduce, movement, composite; none for the rest) and, for elementwise ops, the runtime operator struct that
/// defines its name, reference semantics, generated-kernel form and runtime code, with its typing rule.
/// <see cref="OpInfo"/> reads these declarations; rewrite rules and backends match on the groups. Composite ops (softmax, norms, attention, conv...)
/// are first-class so passes can pick fast kernels; <c>DecomposeComposites</c> lowers them to primitives.
/// </summary>
public enum Op
{
    // ---- leaves
    /// <summary>A graph input; attrs: <see cref="InputAttrs"/>.</summary>
    [Leaf]
    Input,
    /// <summary>A constant tensor (a weight or literal); attrs: <see cref="ConstantAttrs"/>.</summary>
    [Leaf]
    Constant,
    /// <summary>A tensor filled with one value; attrs: <see cref="FullAttrs"/>.</summary>
    [Leaf]
    Full,
    /// <summary>start + step * i for i in [0, n); attrs: <see cref="ArangeAttrs"/>.</summary>
    [Leaf]
    Arange,

    // ---- unary elementwise
    /// <summary>-x.</summary>
    [Unary(typeof(NegOp), UnaryTyping.Numeric)]
    Neg,
    /// <summary>|x|.</summary>
    [Unary(typeof(AbsOp), UnaryTyping.NumericOrBool)]
    Abs,
    /// <summary>e^x.</summary>
    [Unary(typeof(ExpOp), UnaryTyping.Float)]
    Exp,
    /// <summary>ln x.</summary>
    [Unary(typeof(LogOp), UnaryTyping.Float)]
    Log,
    /// <summary>√x.</summary>
    [Unary(typeof(SqrtOp), UnaryTyping.Float)]
    Sqrt,
    /// <summary>1/√x.</summary>
    [Unary(typeof(RsqrtOp), UnaryTyping.Float)]
    Rsqrt,
    /// <summary>sin x.</summary>
    [Unary(typeof(SinOp), UnaryTyping.Float)]
    Sin,
    /// <summary>cos x.</summary>
    [Unary(typeof(CosOp), UnaryTyping.Float)]
    Cos,
    /// <summary>tanh x.</summary>
    [Unary(typeof(TanhOp), UnaryTyping.Float)]
    Tanh,
    /// <summary>1/(1+e^-x).</summary>
    [Unary(typeof(SigmoidOp), UnaryTyping.Float)]
    Sigmoid,
    /// <summary>max(x, 0).</summary>
    [Unary(typeof(ReluOp), UnaryTyping.NumericOrBool)]
    Relu,
    /// <summary>x·Φ(x) with the exact erf form.</summary>
    [Unary(typeof(GeluOp), UnaryTyping.Float)]
    Gelu,
    /// <summary>GELU's tanh approximation (gelu_new, gelu_pytorch_tanh).</summary>
    [Unary(typeof(GeluTanhOp), UnaryTyping.Float)]
    GeluTanh,
    /// <summary>x·sigmoid(x).</summary>
    [Unary(typeof(SiluOp), UnaryTyping.Float)]
    Silu,
    /// <summary>The error function.</summary>
    [Unary(typeof(ErfOp), UnaryTyping.Float)]
    Erf,
    /// <summary>Round toward −∞.</summary>
    [Unary(typeof(FloorOp), UnaryTyping.Rounding)]
    Floor,
    /// <summary>Round toward +∞.</summary>
    [Unary(typeof(CeilOp), UnaryTyping.Rounding)]
    Ceil,
    /// <summary>Round half to even.</summary>
    [Unary(typeof(RoundOp), UnaryTyping.Rounding)]
    Round,
    /// <summary>−1, 0 or 1 (NaN stays NaN).</summary>
    [Unary(typeof(SignOp), UnaryTyping.Numeric)]
    Sign,
    /// <summary>1/x.</summary>
    [Unary(typeof(ReciprocalOp), UnaryTyping.Float)]
    Reciprocal,
    /// <summary>Logical not of a bool tensor.</summary>
    [Unary(typeof(LogicalNotOp), UnaryTyping.Logical)]
    LogicalNot,
    /// <summary>PyTorch's softplus (β = 1, threshold 20): x above 20, else ln(1 + eˣ).</summary>
    [Unary(typeof(SoftplusOp), UnaryTyping.Float)]
    Softplus,
    /// <summary>x·tanh(softplus(x)).</summary>
    [Unary(typeof(MishOp), UnaryTyping.Float)]
    Mish,
    /// <summary>Conversion to the node's dtype (floats to ints truncate toward zero).</summary>
    [Unary(typeof(CastOp), UnaryTyping.Cast)]
    Cast,

    // ---- binary elementwise (inputs share shape and dtype)
    /// <summary>a + b.</summary>
    [Binary(typeof(AddOp), BinaryTyping.ArithmeticOrBool, Commutative = true)]
    Add,
    /// <summary>a − b.</summary>
    [Binary(typeof(SubOp), BinaryTyping.Arithmetic)]
    Sub,
    /// <summary>a · b.</summary>
    [Binary(typeof(MulOp), BinaryTyping.ArithmeticOrBool, Commutative = true)]
    Mul,
    /// <summary>a / b (true division; integer division is <see cref="FloorDiv"/>).</summary>
    [Binary(typeof(DivOp), BinaryTyping.TrueDivision)]
    Div,
    /// <summary>floor(a / b), PyTorch's floor_divide.</summary>
    [Binary(typeof(FloorDivOp), BinaryTyping.Arithmetic)]
    FloorDiv,
    /// <summary>a − b·floor(a/b), PyTorch's remainder (sign of the divisor).</summary>
    [Binary(typeof(RemainderOp), BinaryTyping.Arithmetic)]
    Remainder,
    /// <summary>a^b.</summary>
    [Binary(typeof(PowOp), BinaryTyping.Arithmetic)]
    Pow,
    /// <summary>Elementwise maximum, NaN propagating.</summary>
    [Binary(typeof(MaximumOp), BinaryTyping.ArithmeticOrBool, Commutative = true)]
    Maximum,
    /// <summary>Elementwise minimum, NaN propagating.</summary>
    [Binary(typeof(MinimumOp), BinaryTyping.ArithmeticOrBool, Commutative = true)]
    Minimum,
    /// <summary>a == b (bool result).</summary>
    [Binary(typeof(EqOp), BinaryTyping.Comparison, Commutative = true)]
    Eq,
    /// <summary>a != b (bool result).</summary>
    [Binary(typeof(NeOp), BinaryTyping.Comparison, Commutative = true)]
    Ne,
    /// <summary>a &lt; b (bool result).</summary>
    [Binary(typeof(LtOp), BinaryTyping.Comparison)]
    Lt,
    /// <summary>a ≤ b (bool result).</summary>
    [Binary(typeof(LeOp), BinaryTyping.Comparison)]
    Le,
    /// <summary>a &gt; b (bool result).</summary>
    [Binary(typeof(GtOp), BinaryTyping.Comparison)]
    Gt,
    /// <summary>a ≥ b (bool result).</summary>
    [Binary(typeof(GeOp), BinaryTyping.Comparison)]
    Ge,
    /// <summary>Logical and of bool tensors.</summary>
    [Binary(typeof(LogicalAndOp), BinaryTyping.Logical, Commutative = true)]
    LogicalAnd,
    /// <summary>Logical or of bool tensors.</summary>
    [Binary(typeof(LogicalOrOp), BinaryTyping.Logical, Commutative = true)]
    LogicalOr,

    // ---- ternary
    /// <summary>cond ? a : b; cond is bool, a and b share dtype; all share shape.</summary>
    [Ternary(typeof(WhereOp))]
    Where,

    // ---- reductions; attrs: ReduceAttrs
    /// <summary>Sum over axes.</summary>
    [Reduce(ReduceOp.Sum)]
    Sum,
    /// <summary>Mean over axes.</summary>
    [Reduce(ReduceOp.Mean)]
    Mean,
    /// <summary>Maximum over axes (NaN propagating).</summary>
    [Reduce(ReduceOp.Max)]
    Max,
    /// <summary>Minimum over axes (NaN propagating).</summary>
    [Reduce(ReduceOp.Min)]
    Min,
    /// <summary>Product over axes.</summary>
    [Reduce(ReduceOp.Prod)]
    Prod,
    /// <summary>Index of the first maximum along one axis (int64).</summary>
    [Reduce(ReduceOp.ArgMax)]
    ArgMax,
    /// <summary>Index of the first minimum along one axis (int64).</summary>
    [Reduce(ReduceOp.ArgMin)]
    ArgMin,
    /// <summary>Inclusive prefix sum along one axis; attrs: AxisAttrs.</summary>
    CumSum,

    // ---- linear algebra
    /// <summary>[..., M, K] × [..., K, N] → [..., M, N]; batch dims equal (broadcasting is made explicit by expand).</summary>
    MatMul,

    // ---- movement (views until materialized)
    /// <summary>Same elements, new shape; attrs: ShapeAttrs.</summary>
    [Movement(View = true)]
    Reshape,
    /// <summary>Axis permutation; attrs: PermuteAttrs.</summary>
    [Movement(View = true)]
    Permute,
    /// <summary>Broadcast size-1 dims; attrs: ShapeAttrs.</summary>
    [Movement(View = true)]
    Expand,
    /// <summary>Strided slice along one axis; attrs: SliceAttrs.</summary>
    [Movement(View = true)]
    Slice,
    /// <summary>Concatenation along one axis; attrs: AxisAttrs.</summary>
    [Movement]
    Concat,
    /// <summary>Constant padding; attrs: PadAttrs.</summary>
    [Movement]
    Pad,
    /// <summary>Reverse along axes; attrs: AxesAttrs.</summary>
    [Movement(View = true)]
    Flip,
    /// <summary>numpy.take: x.shape[:axis] + index.shape + x.shape[axis+1:]; covers index_select and embedding; attrs: AxisAttrs.</summary>
    [Movement]
    IndexSelect,
    /// <summary>torch.gather: out[i][j] = x[index[i][j]][j] along axis; attrs: AxisAttrs.</summary>
    [Movement]
    Gather,
    /// <summary>A copy of input 0 with the slice described by SliceAttrs replaced by input 1 (torch.slice_scatter).</summary>
    [Movement]
    SliceScatter,
    /// <summary>torch.scatter_add (out-of-place); inputs x, index, src; attrs: AxisAttrs.</summary>
    [Movement]
    ScatterAdd,

    // ---- composites
    /// <summary>Softmax along one axis; attrs: AxisAttrs.</summary>
    [Composite]
    Softmax,
    /// <summary>Log-softmax along one axis; attrs: AxisAttrs.</summary>
    [Composite]
    LogSoftmax,
    /// <summary>N-d convolution (NC* layout); inputs x, w[, bias]; attrs: ConvAttrs.</summary>
    [Composite]
    Conv,
    /// <summary>N-d transposed convolution; inputs x, w[, bias]; attrs: ConvAttrs.</summary>
    [Composite]
    ConvTranspose,
    /// <summary>Max pooling; attrs: PoolAttrs.</summary>
    [Composite]
    MaxPool,
    /// <summary>Average pooling; attrs: PoolAttrs.</summary>
    [Composite]
    AvgPool,
    /// <summary>Nearest-neighbour upsampling by integer factors of the spatial dims; attrs: UpsampleAttrs.</summary>
    [Composite]
    UpsampleNearest,
    /// <summary>Layer norm over the last dims; inputs x[, weight][, bias]; attrs: NormAttrs.</summary>
    [Composite]
    LayerNorm,
    /// <summary>RMS norm over the last dim; inputs x[, weight]; attrs: NormAttrs.</summary>
    [Composite]
    RmsNorm,
    /// <summary>Group norm over (C/groups, *spatial); inputs x[, weight][, bias]; attrs: NormAttrs.</summary>
    [Composite]
    GroupNorm,
    /// <summary>Rotary embedding; inputs x [..., D], cos, sin [..., D/2]; attrs: RopeAttrs.</summary>
    [Composite]
    Rope,
    /// <summary>Scaled dot-product attention; inputs q, k, v[, mask]; attrs: AttentionAttrs.</summary>
    [Composite]
    Attention,

    // ---- quantized weights
    /// <summary>
    /// A constant matrix [rows, cols] stored in ggml blocks (<see cref="QuantConstantAttrs"/>); its value is the exact
    /// float32 dequantization of the blocks. Read as stored by <see cref="QuantMatMul"/> and <see cref="QuantEmbedding"/>.
    /// </summary>
    [Leaf]
    QuantConstant,
    /// <summary>x [..., k] (float32) times the transpose of a quantized constant w [n, k]: [..., n] (float32); inputs x, w.</summary>
    QuantMatMul,
    /// <summary>Rows of a quantized constant w [rows, cols] picked by integer ids: ids.shape + [cols] (float32); inputs w, ids.</summary>
    QuantEmbedding,

    /// <summary>A fused group: the attrs hold the body graph, whose inputs bind to this node's inputs.</summary>
    Fused,

    // ---- randomness
    /// <summary>
    /// Uniform float32 in [0, 1) of the shape in <see cref="RandomUniformAttrs"/>: element i is a pure function of the
    /// int64 scalar seed (input 0), the attrs' stream and i, Philox-4x32-10
    /// (<see cref="Candle.Runtime.Randomness.Philox4x32.Uniform(long, long, long)"/>), so every backend and every evaluation
    /// of the node agree bit for bit. It has no gradient.
    /// </summary>
    RandomUniform,
}
