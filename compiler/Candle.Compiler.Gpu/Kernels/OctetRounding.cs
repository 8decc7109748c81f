namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Rounds eight f32 lanes to a storage dtype and back, as storing them through the matching
/// <see cref="IOctetStorage"/> and loading them again would: what a fused kernel computes from a value that the
/// unfused kernels would have stored first (a residual sum).
/// </summary>
internal interface IOctetRounding
{
    Lanes Round(Lanes v);
}

/// <summary>f32: nothing to round.</summary>
internal readonly struct F32Rounding : IOctetRounding
{
    public Lanes Round(Lanes v) => v;
}

/// <summary>IEEE half in integer arithmetic (<see cref="F16Octets"/>).</summary>
internal readonly struct F16Rounding : IOctetRounding
{
    public Lanes Round(Lanes v) => new()
    {
        L0 = GpuMath.RoundF16(v.L0), L1 = GpuMath.RoundF16(v.L1), L2 = GpuMath.RoundF16(v.L2), L3 = GpuMath.RoundF16(v.L3),
        L4 = GpuMath.RoundF16(v.L4), L5 = GpuMath.RoundF16(v.L5), L6 = GpuMath.RoundF16(v.L6), L7 = GpuMath.RoundF16(v.L7),
    };
}

/// <summary>IEEE half with the hardware conversion (<see cref="HalfOctets"/>).</summary>
internal readonly struct HalfRounding : IOctetRounding
{
    public Lanes Round(Lanes v) => new()
    {
        L0 = GpuMath.RoundHalf(v.L0), L1 = GpuMath.RoundHalf(v.L1), L2 = GpuMath.RoundHalf(v.L2), L3 = GpuMath.RoundHalf(v.L3),
        L4 = GpuMath.RoundHalf(v.L4), L5 = GpuMath.RoundHalf(v.L5), L6 = GpuMath.RoundHalf(v.L6), L7 = GpuMath.RoundHalf(v.L7),
    };
}

/// <summary>bfloat16 (<see cref="BF16Octets"/>).</summary>
internal readonly struct BF16Rounding : IOctetRounding
{
    public Lanes Round(Lanes v) => new()
    {
        L0 = GpuMath.RoundBF16(v.L0), L1 = GpuMath.RoundBF16(v.L1), L2 = GpuMath.RoundBF16(v.L2), L3 = GpuMath.RoundBF16(v.L3),
        L4 = GpuMath.RoundBF16(v.L4), L5 = GpuMath.RoundBF16(v.L5), L6 = GpuMath.RoundBF16(v.L6), L7 = GpuMath.RoundBF16(v.L7),
    };
}
