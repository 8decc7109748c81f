namespace Candle.Torch;

public partial class Tensor
{
    /// <summary>a + b with broadcasting and promotion.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => Bin(Compiler.Ir.Op.Add, a, b);

    /// <summary>a + s.</summary>
    public static Tensor operator +(Tensor a, double s) => Bin(Compiler.Ir.Op.Add, a, s);

    /// <summary>s + a.</summary>
    public static Tensor operator +(double s, Tensor a) => Bin(Compiler.Ir.Op.Add, s, a);

    /// <summary>a − b.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => Bin(Compiler.Ir.Op.Sub, a, b);

    /// <summary>a − s.</summary>
    public static Tensor operator -(Tensor a, double s) => Bin(Compiler.Ir.Op.Sub, a, s);

    /// <summary>s − a.</summary>
    public static Tensor operator -(double s, Tensor a) => Bin(Compiler.Ir.Op.Sub, s, a);

    /// <summary>a · b.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => Bin(Compiler.Ir.Op.Mul, a, b);

    /// <summary>a · s.</summary>
    public static Tensor operator *(Tensor a, double s) => Bin(Compiler.Ir.Op.Mul, a, s);

    /// <summary>s · a.</summary>
    public static Tensor operator *(double s, Tensor a) => Bin(Compiler.Ir.Op.Mul, s, a);

    /// <summary>a / b (true division).</summary>
    public static Tensor operator /(Tensor a, Tensor b) => Bin(Compiler.Ir.Op.Div, a, b);

    /// <summary>a / s.</summary>
    public static Tensor operator /(Tensor a, double s) => Bin(Compiler.Ir.Op.Div, a, s);

    /// <summary>s / a.</summary>
    public static Tensor operator /(double s, Tensor a) => Bin(Compiler.Ir.Op.Div, s, a);

    /// <summary>a % b (torch.remainder).</summary>
    public static Tensor operator %(Tensor a, Tensor b) => Bin(Compiler.Ir.Op.Remainder, a, b);

    /// <summary>a % s (torch.remainder).</summary>
    public static Tensor operator %(Tensor a, double s) => Bin(Compiler.Ir.Op.Remainder, a, s);

    /// <summary>−a.</summary>
    public static Tensor operator -(Tensor a)
    {
        ArgumentNullException.ThrowIfNull(a);
        return a.Neg();
    }

    /// <summary>a &lt; b (bool).</summary>
    public static Tensor operator <(Tensor a, Tensor b) => Bin(Compiler.Ir.Op.Lt, a, b);

    /// <summary>a &gt; b (bool).</summary>
    public static Tensor operator >(Tensor a, Tensor b) => Bin(Compiler.Ir.Op.Gt, a, b);

    /// <summary>a ≤ b (bool).</summary>
    public static Tensor operator <=(Tensor a, Tensor b) => Bin(Compiler.Ir.Op.Le, a, b);

    /// <summary>a ≥ b (bool).</summary>
    public static Tensor operator >=(Tensor a, Tensor b) => Bin(Compiler.Ir.Op.Ge, a, b);

    /// <summary>a &lt; s (bool).</summary>
    public static Tensor operator <(Tensor a, double s) => Bin(Compiler.Ir.Op.Lt, a, s);

    /// <summary>a &gt; s (bool).</summary>
    public static Tensor operator >(Tensor a, double s) => Bin(Compiler.Ir.Op.Gt, a, s);

    /// <summary>a ≤ s (bool).</summary>
    public static Tensor operator <=(Tensor a, double s) => Bin(Compiler.Ir.Op.Le, a, s);

    /// <summary>a ≥ s (bool).</summary>
    public static Tensor operator >=(Tensor a, double s) => Bin(Compiler.Ir.Op.Ge, a, s);

    /// <summary>s &lt; a (bool).</summary>
    public static Tensor operator <(double s, Tensor a) => Bin(Compiler.Ir.Op.Lt, s, a);

    /// <summary>s &gt; a (bool).</summary>
    public static Tensor operator >(double s, Tensor a) => Bin(Compiler.Ir.Op.Gt, s, a);

    /// <summary>s ≤ a (bool).</summary>
    public static Tensor operator <=(double s, Tensor a) => Bin(Compiler.Ir.Op.Le, s, a);

    /// <summary>s ≥ a (bool).</summary>
    public static Tensor operator >=(double s, Tensor a) => Bin(Compiler.Ir.Op.Ge, s, a);

    /// <summary>Logical and of bool tensors.</summary>
    public static Tensor operator &(Tensor a, Tensor b) => Bin(Compiler.Ir.Op.LogicalAnd, a, b);

    /// <summary>Logical or of bool tensors.</summary>
    public static Tensor operator |(Tensor a, Tensor b) => Bin(Compiler.Ir.Op.LogicalOr, a, b);

    /// <summary>Logical not of a bool tensor.</summary>
    public static Tensor operator !(Tensor a)
    {
        ArgumentNullException.ThrowIfNull(a);
        return a.LogicalNot();
    }
}
