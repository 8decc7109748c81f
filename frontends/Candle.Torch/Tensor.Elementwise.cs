using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Torch;

public partial class Tensor
{
    /// <summary>−x.</summary>
    public Tensor Neg() => Un(Op.Neg);

    /// <summary>|x|.</summary>
    public Tensor Abs() => Un(Op.Abs);

    /// <summary>eˣ (integers promote to float32).</summary>
    public Tensor Exp() => Un(Op.Exp);

    /// <summary>ln x.</summary>
    public Tensor Log() => Un(Op.Log);

    /// <summary>√x.</summary>
    public Tensor Sqrt() => Un(Op.Sqrt);

    /// <summary>1/√x.</summary>
    public Tensor Rsqrt() => Un(Op.Rsqrt);

    /// <summary>sin x.</summary>
    public Tensor Sin() => Un(Op.Sin);

    /// <summary>cos x.</summary>
    public Tensor Cos() => Un(Op.Cos);

    /// <summary>tanh x.</summary>
    public Tensor Tanh() => Un(Op.Tanh);

    /// <summary>1/(1+e⁻ˣ).</summary>
    public Tensor Sigmoid() => Un(Op.Sigmoid);

    /// <summary>max(x, 0).</summary>
    public Tensor Relu() => Un(Op.Relu);

    /// <summary>GELU: <paramref name="approximate"/> "none" (exact erf form) or "tanh".</summary>
    /// <exception cref="ArgumentException">Another approximation is named.</exception>
    public Tensor Gelu(string approximate = "none") => approximate switch
    {
        "none" => Un(Op.Gelu),
        "tanh" => Un(Op.GeluTanh),
        _ => throw new ArgumentException($"gelu: approximate must be 'none' or 'tanh', got '{approximate}'", nameof(approximate)),
    };

    /// <summary>x·sigmoid(x).</summary>
    public Tensor Silu() => Un(Op.Silu);

    /// <summary>The error function.</summary>
    public Tensor Erf() => Un(Op.Erf);

    /// <summary>Round toward −∞ (identity for integers).</summary>
    public Tensor Floor() => Un(Op.Floor);

    /// <summary>Round toward +∞ (identity for integers).</summary>
    public Tensor Ceil() => Un(Op.Ceil);

    /// <summary>Round half to even (identity for integers).</summary>
    public Tensor Round() => Un(Op.Round);

    /// <summary>−1, 0 or 1.</summary>
    public Tensor Sign() => Un(Op.Sign);

    /// <summary>1/x.</summary>
    public Tensor Reciprocal() => Un(Op.Reciprocal);

    /// <summary>x·x.</summary>
    public Tensor Square() => Bin(Op.Mul, this, this);

    /// <summary>Logical not (any dtype: nonzero is true).</summary>
    public Tensor LogicalNot() => Un(Op.LogicalNot);

    /// <summary>Logical and (nonzero is true).</summary>
    public Tensor LogicalAnd(Tensor other) => Bin(Op.LogicalAnd, this, other);

    /// <summary>Logical or (nonzero is true).</summary>
    public Tensor LogicalOr(Tensor other) => Bin(Op.LogicalOr, this, other);

    /// <summary>x^exponent, elementwise with broadcasting.</summary>
    public Tensor Pow(Tensor exponent) => Bin(Op.Pow, this, exponent);

    /// <summary>x^exponent.</summary>
    public Tensor Pow(double exponent) => Bin(Op.Pow, this, exponent);

    /// <summary>Elementwise maximum (NaN propagating).</summary>
    public Tensor Maximum(Tensor other) => Bin(Op.Maximum, this, other);

    /// <summary>Elementwise minimum (NaN propagating).</summary>
    public Tensor Minimum(Tensor other) => Bin(Op.Minimum, this, other);

    /// <summary>Clamps to [min, max]; null bounds are open.</summary>
    public Tensor Clamp(double? min = null, double? max = null)
    {
        var r = this;
        if (min is double lo) r = Bin(Op.Maximum, r, lo);
        if (max is double hi) r = Bin(Op.Minimum, r, hi);
        return r;
    }

    /// <summary>floor(x / other).</summary>
    public Tensor FloorDivide(Tensor other) => Bin(Op.FloorDiv, this, other);

    /// <summary>floor(x / other).</summary>
    public Tensor FloorDivide(double other) => Bin(Op.FloorDiv, this, other);

    /// <summary>x − other·floor(x/other) (the sign of the divisor, as torch.remainder).</summary>
    public Tensor Remainder(Tensor other) => Bin(Op.Remainder, this, other);

    /// <summary>x − other·floor(x/other).</summary>
    public Tensor Remainder(double other) => Bin(Op.Remainder, this, other);

    /// <summary>x + alpha·other.</summary>
    public Tensor Add(Tensor other, double alpha = 1) => Bin(Op.Add, this, alpha == 1 ? other : other * alpha);

    /// <summary>x + other.</summary>
    public Tensor Add(double other) => Bin(Op.Add, this, other);

    /// <summary>x − alpha·other.</summary>
    public Tensor Sub(Tensor other, double alpha = 1) => Bin(Op.Sub, this, alpha == 1 ? other : other * alpha);

    /// <summary>x − other.</summary>
    public Tensor Sub(double other) => Bin(Op.Sub, this, other);

    /// <summary>x · other.</summary>
    public Tensor Mul(Tensor other) => Bin(Op.Mul, this, other);

    /// <summary>x · other.</summary>
    public Tensor Mul(double other) => Bin(Op.Mul, this, other);

    /// <summary>x / other (true division: integers give float32).</summary>
    public Tensor Div(Tensor other) => Bin(Op.Div, this, other);

    /// <summary>x / other.</summary>
    public Tensor Div(double other) => Bin(Op.Div, this, other);

    /// <summary>x == other (bool).</summary>
    public Tensor Eq(Tensor other) => Bin(Op.Eq, this, other);

    /// <summary>x == other (bool).</summary>
    public Tensor Eq(double other) => Bin(Op.Eq, this, other);

    /// <summary>x != other (bool).</summary>
    public Tensor Ne(Tensor other) => Bin(Op.Ne, this, other);

    /// <summary>x != other (bool).</summary>
    public Tensor Ne(double other) => Bin(Op.Ne, this, other);

    /// <summary>x &lt; other (bool).</summary>
    public Tensor Lt(Tensor other) => Bin(Op.Lt, this, other);

    /// <summary>x &lt; other (bool).</summary>
    public Tensor Lt(double other) => Bin(Op.Lt, this, other);

    /// <summary>x ≤ other (bool).</summary>
    public Tensor Le(Tensor other) => Bin(Op.Le, this, other);

    /// <summary>x ≤ other (bool).</summary>
    public Tensor Le(double other) => Bin(Op.Le, this, other);

    /// <summary>x &gt; other (bool).</summary>
    public Tensor Gt(Tensor other) => Bin(Op.Gt, this, other);

    /// <summary>x &gt; other (bool).</summary>
    public Tensor Gt(double other) => Bin(Op.Gt, this, other);

    /// <summary>x ≥ other (bool).</summary>
    public Tensor Ge(Tensor other) => Bin(Op.Ge, this, other);

    /// <summary>x ≥ other (bool).</summary>
    public Tensor Ge(double other) => Bin(Op.Ge, this, other);

    /// <summary>condition ? x : other, with broadcasting and promotion.</summary>
    public static Tensor Where(Tensor condition, Tensor x, Tensor other)
    {
        ArgumentNullException.ThrowIfNull(condition);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(other);
        return Wrap(IrBuilder.Where(condition.Node, x.Node, other.Node), DeviceOf("where", condition, x, other));
    }

    /// <summary>condition ? x : other, the scalar taking x's dtype.</summary>
    public static Tensor Where(Tensor condition, Tensor x, double other)
    {
        ArgumentNullException.ThrowIfNull(x);
        return Where(condition, x, x.ScalarLike(other));
    }

    /// <summary>condition ? x : other, the scalar taking other's dtype.</summary>
    public static Tensor Where(Tensor condition, double x, Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Where(condition, other.ScalarLike(x), other);
    }

    /// <summary>x where mask is false, <paramref name="value"/> where it is true (x's dtype is kept).</summary>
    public Tensor MaskedFill(Tensor mask, double value)
    {
        ArgumentNullException.ThrowIfNull(mask);
        return Where(mask, ScalarLike(value), this);
    }

    /// <summary>Converts to <paramref name="dtype"/> (floats to integers truncate toward zero).</summary>
    public Tensor To(DType dtype) => W(IrBuilder.Cast(Node, dtype));

    /// <summary>Converts to <paramref name="dtype"/> and <paramref name="device"/>.</summary>
    public Tensor To(Device device, DType dtype) => To(dtype).To(device);

    /// <summary>Converts to float32.</summary>
    public Tensor Float() => To(DType.F32);

    /// <summary>Converts to float16.</summary>
    public Tensor Half() => To(DType.F16);

    /// <summary>Converts to bfloat16.</summary>
    public Tensor BFloat16() => To(DType.BF16);

    /// <summary>Converts to float64.</summary>
    public Tensor Double() => To(DType.F64);

    /// <summary>Converts to int64.</summary>
    public Tensor Long() => To(DType.I64);

    /// <summary>Converts to int32.</summary>
    public Tensor Int() => To(DType.I32);

    /// <summary>Converts to bool (nonzero is true).</summary>
    public Tensor Bool() => To(DType.Bool);

    /// <summary>A 0-d tensor of this tensor's dtype and device holding <paramref name="value"/>.</summary>
    internal Tensor ScalarLike(double value) => new(IrBuilder.Scalar(value, DType), Device);

    private Tensor Un(Op op) => W(IrBuilder.Unary(op, Node));

    private static Tensor Bin(Op op, Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return Wrap(IrBuilder.Binary(op, a.Node, b.Node), DeviceOf(op.Name(), a, b));
    }

    private static Tensor Bin(Op op, Tensor a, double b)
    {
        ArgumentNullException.ThrowIfNull(a);
        return Wrap(IrBuilder.Binary(op, a.Node, b), a.Device);
    }

    private static Tensor Bin(Op op, double a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(b);
        return Wrap(IrBuilder.Binary(op, a, b.Node), b.Device);
    }
}
