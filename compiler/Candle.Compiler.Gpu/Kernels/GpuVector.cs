using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Up to eight f32 lanes of a vectorized elementwise kernel: the elements one thread loads from (or stores to) one
/// operand with 16-byte accesses. Public only because generated kernel assemblies use it.
/// </summary>
public struct Lanes
{
    /// <summary>Lane 0.</summary>
    public float L0;

    /// <summary>Lane 1.</summary>
    public float L1;

    /// <summary>Lane 2.</summary>
    public float L2;

    /// <summary>Lane 3.</summary>
    public float L3;

    /// <summary>Lane 4 (eight-lane accesses only).</summary>
    public float L4;

    /// <summary>Lane 5 (eight-lane accesses only).</summary>
    public float L5;

    /// <summary>Lane 6 (eight-lane accesses only).</summary>
    public float L6;

    /// <summary>Lane 7 (eight-lane accesses only).</summary>
    public float L7;
}

/// <summary>
/// The 16-byte loads and stores of the vectorized elementwise kernels (<c>ld.global.v4.b32</c> and
/// <c>st.global.v4.b32</c> on CUDA): four or eight consecutive elements from element <c>e</c> of a view of the operand's
/// memory as <see cref="Quad"/>s, widened to f32 on load and rounded to nearest even on store exactly as
/// <see cref="GpuMath"/>'s scalar loads and stores. The view must start 16-byte aligned and <c>e</c> must be a multiple
/// of the lane count. Public only because generated kernel assemblies call them.
/// </summary>
public static class GpuVector
{
    /// <summary>The 32-bit flat index of an implicitly grouped kernel.</summary>
    public static int Thread(Index1D index) => index.X;

    /// <summary>Four f32 elements from element <paramref name="e"/> (a multiple of 4).</summary>
    public static Lanes LoadF32x4(ArrayView<Quad> view, int e)
    {
        var q = view[e >> 2];
        return new Lanes { L0 = Interop.IntAsFloat(q.X), L1 = Interop.IntAsFloat(q.Y), L2 = Interop.IntAsFloat(q.Z), L3 = Interop.IntAsFloat(q.W) };
    }

    /// <summary>Eight f32 elements from element <paramref name="e"/> (a multiple of 8): two 16-byte loads.</summary>
    public static Lanes LoadF32x8(ArrayView<Quad> view, int e)
    {
        var a = view[e >> 2];
        var b = view[(e >> 2) + 1];
        return new Lanes
        {
            L0 = Interop.IntAsFloat(a.X), L1 = Interop.IntAsFloat(a.Y), L2 = Interop.IntAsFloat(a.Z), L3 = Interop.IntAsFloat(a.W),
            L4 = Interop.IntAsFloat(b.X), L5 = Interop.IntAsFloat(b.Y), L6 = Interop.IntAsFloat(b.Z), L7 = Interop.IntAsFloat(b.W),
        };
    }

    /// <summary>Eight IEEE half elements from element <paramref name="e"/> (a multiple of 8), widened to f32.</summary>
    public static Lanes LoadF16x8(ArrayView<Quad> view, int e)
    {
        var q = view[e >> 3];
        return new Lanes
        {
            L0 = GpuMath.F16ToF32((ushort)(q.X & 0xFFFFu)), L1 = GpuMath.F16ToF32((ushort)(q.X >> 16)),
            L2 = GpuMath.F16ToF32((ushort)(q.Y & 0xFFFFu)), L3 = GpuMath.F16ToF32((ushort)(q.Y >> 16)),
            L4 = GpuMath.F16ToF32((ushort)(q.Z & 0xFFFFu)), L5 = GpuMath.F16ToF32((ushort)(q.Z >> 16)),
            L6 = GpuMath.F16ToF32((ushort)(q.W & 0xFFFFu)), L7 = GpuMath.F16ToF32((ushort)(q.W >> 16)),
        };
    }

    /// <summary>Eight IEEE half elements from element <paramref name="e"/> (a multiple of 8), widened by the hardware conversion (<see cref="GpuMath.HalfToF32"/>).</summary>
    public static Lanes LoadHalfx8(ArrayView<Quad> view, int e)
    {
        var q = view[e >> 3];
        return new Lanes
        {
            L0 = GpuMath.HalfToF32((ushort)(q.X & 0xFFFFu)), L1 = GpuMath.HalfToF32((ushort)(q.X >> 16)),
            L2 = GpuMath.HalfToF32((ushort)(q.Y & 0xFFFFu)), L3 = GpuMath.HalfToF32((ushort)(q.Y >> 16)),
            L4 = GpuMath.HalfToF32((ushort)(q.Z & 0xFFFFu)), L5 = GpuMath.HalfToF32((ushort)(q.Z >> 16)),
            L6 = GpuMath.HalfToF32((ushort)(q.W & 0xFFFFu)), L7 = GpuMath.HalfToF32((ushort)(q.W >> 16)),
        };
    }

    /// <summary>Eight bfloat16 elements from element <paramref name="e"/> (a multiple of 8), widened to f32.</summary>
    public static Lanes LoadBF16x8(ArrayView<Quad> view, int e)
    {
        var q = view[e >> 3];
        return new Lanes
        {
            L0 = Interop.IntAsFloat(q.X << 16), L1 = Interop.IntAsFloat(q.X & 0xFFFF0000u),
            L2 = Interop.IntAsFloat(q.Y << 16), L3 = Interop.IntAsFloat(q.Y & 0xFFFF0000u),
            L4 = Interop.IntAsFloat(q.Z << 16), L5 = Interop.IntAsFloat(q.Z & 0xFFFF0000u),
            L6 = Interop.IntAsFloat(q.W << 16), L7 = Interop.IntAsFloat(q.W & 0xFFFF0000u),
        };
    }

    /// <summary>Stores lanes 0..3 as f32 elements from element <paramref name="e"/> (a multiple of 4).</summary>
    public static void StoreF32x4(ArrayView<Quad> view, int e, Lanes v) =>
        view[e >> 2] = new Quad { X = Interop.FloatAsInt(v.L0), Y = Interop.FloatAsInt(v.L1), Z = Interop.FloatAsInt(v.L2), W = Interop.FloatAsInt(v.L3) };

    /// <summary>Stores lanes 0..7 as f32 elements from element <paramref name="e"/> (a multiple of 8): two 16-byte stores.</summary>
    public static void StoreF32x8(ArrayView<Quad> view, int e, Lanes v)
    {
        view[e >> 2] = new Quad { X = Interop.FloatAsInt(v.L0), Y = Interop.FloatAsInt(v.L1), Z = Interop.FloatAsInt(v.L2), W = Interop.FloatAsInt(v.L3) };
        view[(e >> 2) + 1] = new Quad { X = Interop.FloatAsInt(v.L4), Y = Interop.FloatAsInt(v.L5), Z = Interop.FloatAsInt(v.L6), W = Interop.FloatAsInt(v.L7) };
    }

    /// <summary>Stores lanes 0..7 as IEEE half elements from element <paramref name="e"/> (a multiple of 8).</summary>
    public static void StoreF16x8(ArrayView<Quad> view, int e, Lanes v) =>
        view[e >> 3] = new Quad { X = Pack(GpuMath.F32ToF16(v.L0), GpuMath.F32ToF16(v.L1)), Y = Pack(GpuMath.F32ToF16(v.L2), GpuMath.F32ToF16(v.L3)), Z = Pack(GpuMath.F32ToF16(v.L4), GpuMath.F32ToF16(v.L5)), W = Pack(GpuMath.F32ToF16(v.L6), GpuMath.F32ToF16(v.L7)) };

    /// <summary>Stores lanes 0..7 as IEEE half elements from element <paramref name="e"/> (a multiple of 8), narrowed by the hardware conversion (<see cref="GpuMath.F32ToHalf"/>).</summary>
    public static void StoreHalfx8(ArrayView<Quad> view, int e, Lanes v) =>
        view[e >> 3] = new Quad { X = GpuMath.PackHalf2(v.L0, v.L1), Y = GpuMath.PackHalf2(v.L2, v.L3), Z = GpuMath.PackHalf2(v.L4, v.L5), W = GpuMath.PackHalf2(v.L6, v.L7) };

    /// <summary>Stores lanes 0..7 as bfloat16 elements from element <paramref name="e"/> (a multiple of 8).</summary>
    public static void StoreBF16x8(ArrayView<Quad> view, int e, Lanes v) =>
        view[e >> 3] = new Quad { X = Pack(GpuMath.F32ToBF16(v.L0), GpuMath.F32ToBF16(v.L1)), Y = Pack(GpuMath.F32ToBF16(v.L2), GpuMath.F32ToBF16(v.L3)), Z = Pack(GpuMath.F32ToBF16(v.L4), GpuMath.F32ToBF16(v.L5)), W = Pack(GpuMath.F32ToBF16(v.L6), GpuMath.F32ToBF16(v.L7)) };

    private static uint Pack(ushort lo, ushort hi) => lo | ((uint)hi << 16);
}
