namespace Candle.Onnx;

/// <summary>
/// ONNX's 8-bit and 4-bit float formats: FLOAT8E4M3FN (bias 7, no infinities, S.1111.111 is NaN, max 448),
/// FLOAT8E4M3FNUZ (bias 8, 0x80 is NaN, no negative zero, max 240), FLOAT8E5M2 (bias 15, IEEE-like with infinities,
/// max 57344), FLOAT8E5M2FNUZ (bias 16, 0x80 is NaN, max 57344), FLOAT4E2M1 (bias 1, no specials, max 6) and
/// FLOAT8E8M0 (2^(bits − 127), 0xFF is NaN).
/// </summary>
internal static class Float8
{
    /// <summary>Exponent bits, mantissa bits, bias, largest finite value, smallest normal exponent of a format.</summary>
    public static (int Exponent, int Mantissa, int Bias, double Max, int MinExponent) Format(int code) => code switch
    {
        17 => (4, 3, 7, 448, -6),
        18 => (4, 3, 8, 240, -7),
        19 => (5, 2, 15, 57344, -14),
        20 => (5, 2, 16, 57344, -15),
        23 => (2, 1, 1, 6, 0),
        _ => throw new ArgumentOutOfRangeException(nameof(code), code, "not a float8 or float4 format"),
    };

    /// <summary>The value of the bits <paramref name="b"/> in format <paramref name="code"/>.</summary>
    public static float Decode(int code, byte b)
    {
        if (code == 24) return b == 0xFF ? float.NaN : (float)Math.ScaleB(1.0, b - 127);
        if (code is 18 or 20 && b == 0x80) return float.NaN;
        var (eBits, mBits, bias, _, _) = Format(code);
        int total = 1 + eBits + mBits;
        bool negative = (b >> (total - 1) & 1) != 0;
        int e = (b >> mBits) & ((1 << eBits) - 1), m = b & ((1 << mBits) - 1);
        if (code == 17 && e == 15 && m == 7) return float.NaN;
        if (code == 19 && e == 31) return m == 0 ? (negative ? float.NegativeInfinity : float.PositiveInfinity) : float.NaN;
        double v = e == 0 ? Math.ScaleB(m, 1 - bias - mBits) : Math.ScaleB((1 << mBits) + m, e - bias - mBits);
        return (float)(negative ? -v : v);
    }
}
