using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// How a vectorized row kernel reads and writes eight consecutive elements (an octet) of one storage dtype as f32 with
/// 16-byte accesses (<c>ld.global.v4.b32</c> on CUDA): two <see cref="Quad"/>s of f32, one of f16 or bf16. Views start
/// 16-byte aligned; widening and rounding are those of <see cref="GpuMath"/>.
/// </summary>
internal interface IOctetStorage
{
    Lanes Load(ArrayView<Quad> view, long octet);

    void Store(ArrayView<Quad> view, long octet, Lanes v);

    /// <summary>Each lane rounded to the storage dtype and widened back: what <see cref="Load"/> would read after <see cref="Store"/> wrote <paramref name="v"/>.</summary>
    Lanes Round(Lanes v);
}

/// <summary>f32 octets: two 16-byte accesses.</summary>
internal readonly struct F32Octets : IOctetStorage
{
    public Lanes Load(ArrayView<Quad> view, long octet)
    {
        var a = view[2 * octet];
        var b = view[(2 * octet) + 1];
        return new Lanes
        {
            L0 = Interop.IntAsFloat(a.X), L1 = Interop.IntAsFloat(a.Y), L2 = Interop.IntAsFloat(a.Z), L3 = Interop.IntAsFloat(a.W),
            L4 = Interop.IntAsFloat(b.X), L5 = Interop.IntAsFloat(b.Y), L6 = Interop.IntAsFloat(b.Z), L7 = Interop.IntAsFloat(b.W),
        };
    }

    public void Store(ArrayView<Quad> view, long octet, Lanes v)
    {
        view[2 * octet] = new Quad { X = Interop.FloatAsInt(v.L0), Y = Interop.FloatAsInt(v.L1), Z = Interop.FloatAsInt(v.L2), W = Interop.FloatAsInt(v.L3) };
        view[(2 * octet) + 1] = new Quad { X = Interop.FloatAsInt(v.L4), Y = Interop.FloatAsInt(v.L5), Z = Interop.FloatAsInt(v.L6), W = Interop.FloatAsInt(v.L7) };
    }

    public Lanes Round(Lanes v) => v;
}

/// <summary>IEEE half octets: one 16-byte access.</summary>
internal readonly struct F16Octets : IOctetStorage
{
    public Lanes Load(ArrayView<Quad> view, long octet)
    {
        var q = view[octet];
        return new Lanes
        {
            L0 = GpuMath.F16ToF32((ushort)(q.X & 0xFFFFu)), L1 = GpuMath.F16ToF32((ushort)(q.X >> 16)),
            L2 = GpuMath.F16ToF32((ushort)(q.Y & 0xFFFFu)), L3 = GpuMath.F16ToF32((ushort)(q.Y >> 16)),
            L4 = GpuMath.F16ToF32((ushort)(q.Z & 0xFFFFu)), L5 = GpuMath.F16ToF32((ushort)(q.Z >> 16)),
            L6 = GpuMath.F16ToF32((ushort)(q.W & 0xFFFFu)), L7 = GpuMath.F16ToF32((ushort)(q.W >> 16)),
        };
    }

    public void Store(ArrayView<Quad> view, long octet, Lanes v) =>
        view[octet] = new Quad { X = Pack(v.L0, v.L1), Y = Pack(v.L2, v.L3), Z = Pack(v.L4, v.L5), W = Pack(v.L6, v.L7) };

    private static uint Pack(float lo, float hi) => GpuMath.F32ToF16(lo) | ((uint)GpuMath.F32ToF16(hi) << 16);

    public Lanes Round(Lanes v) => new()
    {
        L0 = GpuMath.RoundF16(v.L0), L1 = GpuMath.RoundF16(v.L1), L2 = GpuMath.RoundF16(v.L2), L3 = GpuMath.RoundF16(v.L3),
        L4 = GpuMath.RoundF16(v.L4), L5 = GpuMath.RoundF16(v.L5), L6 = GpuMath.RoundF16(v.L6), L7 = GpuMath.RoundF16(v.L7),
    };
}

/// <summary>IEEE half octets converted by the hardware (<see cref="GpuMath.HalfToF32"/>, <see cref="GpuMath.F32ToHalf"/>): one 16-byte access; CUDA and ILGPU's CPU accelerator.</summary>
internal readonly struct HalfOctets : IOctetStorage
{
    public Lanes Load(ArrayView<Quad> view, long octet)
    {
        var q = view[octet];
        return new Lanes
        {
            L0 = GpuMath.HalfToF32((ushort)(q.X & 0xFFFFu)), L1 = GpuMath.HalfToF32((ushort)(q.X >> 16)),
            L2 = GpuMath.HalfToF32((ushort)(q.Y & 0xFFFFu)), L3 = GpuMath.HalfToF32((ushort)(q.Y >> 16)),
            L4 = GpuMath.HalfToF32((ushort)(q.Z & 0xFFFFu)), L5 = GpuMath.HalfToF32((ushort)(q.Z >> 16)),
            L6 = GpuMath.HalfToF32((ushort)(q.W & 0xFFFFu)), L7 = GpuMath.HalfToF32((ushort)(q.W >> 16)),
        };
    }

    public void Store(ArrayView<Quad> view, long octet, Lanes v) =>
        view[octet] = new Quad { X = Pack(v.L0, v.L1), Y = Pack(v.L2, v.L3), Z = Pack(v.L4, v.L5), W = Pack(v.L6, v.L7) };

    private static uint Pack(float lo, float hi) => GpuMath.PackHalf2(lo, hi);

    public Lanes Round(Lanes v) => new()
    {
        L0 = GpuMath.RoundHalf(v.L0), L1 = GpuMath.RoundHalf(v.L1), L2 = GpuMath.RoundHalf(v.L2), L3 = GpuMath.RoundHalf(v.L3),
        L4 = GpuMath.RoundHalf(v.L4), L5 = GpuMath.RoundHalf(v.L5), L6 = GpuMath.RoundHalf(v.L6), L7 = GpuMath.RoundHalf(v.L7),
    };
}

/// <summary>bfloat16 octets: one 16-byte access.</summary>
internal readonly struct BF16Octets : IOctetStorage
{
    public Lanes Load(ArrayView<Quad> view, long octet)
    {
        var q = view[octet];
        return new Lanes
        {
            L0 = Interop.IntAsFloat(q.X << 16), L1 = Interop.IntAsFloat(q.X & 0xFFFF0000u),
            L2 = Interop.IntAsFloat(q.Y << 16), L3 = Interop.IntAsFloat(q.Y & 0xFFFF0000u),
            L4 = Interop.IntAsFloat(q.Z << 16), L5 = Interop.IntAsFloat(q.Z & 0xFFFF0000u),
            L6 = Interop.IntAsFloat(q.W << 16), L7 = Interop.IntAsFloat(q.W & 0xFFFF0000u),
        };
    }

    public void Store(ArrayView<Quad> view, long octet, Lanes v) =>
        view[octet] = new Quad { X = Pack(v.L0, v.L1), Y = Pack(v.L2, v.L3), Z = Pack(v.L4, v.L5), W = Pack(v.L6, v.L7) };

    private static uint Pack(float lo, float hi) => GpuMath.F32ToBF16(lo) | ((uint)GpuMath.F32ToBF16(hi) << 16);

    public Lanes Round(Lanes v) => new()
    {
        L0 = GpuMath.RoundBF16(v.L0), L1 = GpuMath.RoundBF16(v.L1), L2 = GpuMath.RoundBF16(v.L2), L3 = GpuMath.RoundBF16(v.L3),
        L4 = GpuMath.RoundBF16(v.L4), L5 = GpuMath.RoundBF16(v.L5), L6 = GpuMath.RoundBF16(v.L6), L7 = GpuMath.RoundBF16(v.L7),
    };
}

/// <summary>Lane-wise arithmetic of <see cref="Lanes"/> for the vectorized row kernels, and their row cache layout.</summary>
internal static class LaneMath
{
    public static float Max(Lanes v) =>
        GpuMath.Maximum(GpuMath.Maximum(GpuMath.Maximum(v.L0, v.L1), GpuMath.Maximum(v.L2, v.L3)), GpuMath.Maximum(GpuMath.Maximum(v.L4, v.L5), GpuMath.Maximum(v.L6, v.L7)));

    public static float Sum(Lanes v) => ((v.L0 + v.L1) + (v.L2 + v.L3)) + ((v.L4 + v.L5) + (v.L6 + v.L7));

    public static float SumOfSquares(Lanes v) =>
        ((v.L0 * v.L0) + (v.L1 * v.L1) + (v.L2 * v.L2) + (v.L3 * v.L3)) + ((v.L4 * v.L4) + (v.L5 * v.L5) + (v.L6 * v.L6) + (v.L7 * v.L7));

    /// <summary>e^(v - m) per lane.</summary>
    public static Lanes ExpMinus(Lanes v, float m) => new()
    {
        L0 = MathF.Exp(v.L0 - m), L1 = MathF.Exp(v.L1 - m), L2 = MathF.Exp(v.L2 - m), L3 = MathF.Exp(v.L3 - m),
        L4 = MathF.Exp(v.L4 - m), L5 = MathF.Exp(v.L5 - m), L6 = MathF.Exp(v.L6 - m), L7 = MathF.Exp(v.L7 - m),
    };

    public static Lanes Minus(Lanes v, float s) => new()
    {
        L0 = v.L0 - s, L1 = v.L1 - s, L2 = v.L2 - s, L3 = v.L3 - s, L4 = v.L4 - s, L5 = v.L5 - s, L6 = v.L6 - s, L7 = v.L7 - s,
    };

    public static Lanes Times(Lanes v, float s) => new()
    {
        L0 = v.L0 * s, L1 = v.L1 * s, L2 = v.L2 * s, L3 = v.L3 * s, L4 = v.L4 * s, L5 = v.L5 * s, L6 = v.L6 * s, L7 = v.L7 * s,
    };

    public static Lanes Times(Lanes a, Lanes b) => new()
    {
        L0 = a.L0 * b.L0, L1 = a.L1 * b.L1, L2 = a.L2 * b.L2, L3 = a.L3 * b.L3, L4 = a.L4 * b.L4, L5 = a.L5 * b.L5, L6 = a.L6 * b.L6, L7 = a.L7 * b.L7,
    };

    public static Lanes Plus(Lanes a, Lanes b) => new()
    {
        L0 = a.L0 + b.L0, L1 = a.L1 + b.L1, L2 = a.L2 + b.L2, L3 = a.L3 + b.L3, L4 = a.L4 + b.L4, L5 = a.L5 + b.L5, L6 = a.L6 + b.L6, L7 = a.L7 + b.L7,
    };

    /// <summary>Keeps octet <paramref name="o"/> in the row cache lane-major (lane i at <c>i · octets + o</c>), so a warp's stores hit distinct banks.</summary>
    public static void Put(ArrayView<float> cache, int o, int octets, Lanes v)
    {
        cache[o] = v.L0;
        cache[octets + o] = v.L1;
        cache[(2 * octets) + o] = v.L2;
        cache[(3 * octets) + o] = v.L3;
        cache[(4 * octets) + o] = v.L4;
        cache[(5 * octets) + o] = v.L5;
        cache[(6 * octets) + o] = v.L6;
        cache[(7 * octets) + o] = v.L7;
    }

    /// <summary>Octet <paramref name="o"/> from the row cache (<see cref="Put"/>).</summary>
    public static Lanes Get(ArrayView<float> cache, int o, int octets) => new()
    {
        L0 = cache[o], L1 = cache[octets + o], L2 = cache[(2 * octets) + o], L3 = cache[(3 * octets) + o],
        L4 = cache[(4 * octets) + o], L5 = cache[(5 * octets) + o], L6 = cache[(6 * octets) + o], L7 = cache[(7 * octets) + o],
    };
}
