namespace Candle.Compiler.Ir;

/// <summary>Typing rules of two-input elementwise ops (operands share shape and dtype after the builder's promotion).</summary>
public enum BinaryTyping
{
    /// <summary>The operands' dtype; not defined for bool.</summary>
    Arithmetic,

    /// <summary>The operands' dtype, bool included.</summary>
    ArithmeticOrBool,

    /// <summary>Floating-point operands (the builder promotes integers to float32).</summary>
    TrueDivision,

    /// <summary>Any operands, bool result.</summary>
    Comparison,

    /// <summary>bool operands (the builder casts), bool result.</summary>
    Logical,
}
