namespace Candle.Runtime.Kernels.Cpu;

/// <summary>Elementwise operations of the scalar fallback kernel; names and meanings follow the IR's ops.</summary>
public enum ElementwiseOp
{
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
    /// <summary>x·Φ(x).</summary>
    Gelu,
    /// <summary>GELU, tanh form.</summary>
    GeluTanh,
    /// <summary>x·sigmoid(x).</summary>
    Silu,
    /// <summary>erf x.</summary>
    Erf,
    /// <summary>floor.</summary>
    Floor,
    /// <summary>ceil.</summary>
    Ceil,
    /// <summary>Round half to even.</summary>
    Round,
    /// <summary>sign.</summary>
    Sign,
    /// <summary>1/x.</summary>
    Reciprocal,
    /// <summary>!x.</summary>
    LogicalNot,
    /// <summary>Conversion to the output dtype.</summary>
    Cast,
    /// <summary>a + b.</summary>
    Add,
    /// <summary>a − b.</summary>
    Sub,
    /// <summary>a · b.</summary>
    Mul,
    /// <summary>a / b.</summary>
    Div,
    /// <summary>floor(a / b).</summary>
    FloorDiv,
    /// <summary>a − b·floor(a/b).</summary>
    Remainder,
    /// <summary>a^b.</summary>
    Pow,
    /// <summary>max(a, b), NaN propagating.</summary>
    Maximum,
    /// <summary>min(a, b), NaN propagating.</summary>
    Minimum,
    /// <summary>a == b.</summary>
    Eq,
    /// <summary>a != b.</summary>
    Ne,
    /// <summary>a &lt; b.</summary>
    Lt,
    /// <summary>a ≤ b.</summary>
    Le,
    /// <summary>a &gt; b.</summary>
    Gt,
    /// <summary>a ≥ b.</summary>
    Ge,
    /// <summary>a &amp;&amp; b.</summary>
    LogicalAnd,
    /// <summary>a || b.</summary>
    LogicalOr,
    /// <summary>c ? a : b.</summary>
    Where,
}
