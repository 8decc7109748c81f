namespace Candle.Compiler.Ir;

/// <summary>Typing rules of one-input elementwise ops (the result has the input's shape).</summary>
public enum UnaryTyping
{
    /// <summary>Floating-point only; the builder promotes integers (and bool) to float32.</summary>
    Float,

    /// <summary>Any dtype but bool; keeps the dtype.</summary>
    Numeric,

    /// <summary>Any dtype, bool included; keeps the dtype.</summary>
    NumericOrBool,

    /// <summary>Like <see cref="Numeric"/>, and the identity on integers (the builder drops the op).</summary>
    Rounding,

    /// <summary>bool to bool; the builder casts the input to bool.</summary>
    Logical,

    /// <summary>Conversion to the dtype in <see cref="CastAttrs"/>.</summary>
    Cast,
}
