using System.Runtime.CompilerServices;
using Candle.Runtime.Tensors;

namespace Candle.Runtime.Kernels.Cpu.Lanes;

/// <summary>
/// One float32 lane: the loads, stores and roundings of the scalar tails of generated elementwise kernels, with
/// the member names of <see cref="SimdLanes{TLanes, TVec}"/> (the tails' math is the operator structs over
/// <see cref="Lanes1"/>).
/// </summary>
public static unsafe class ScalarLanes
{
    /// <summary>Loads an f32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LoadF32(byte* p) => *(float*)p;

    /// <summary>Stores an f32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreF32(float v, byte* p) => *(float*)p = v;

    /// <summary>Loads a bf16 as f32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LoadBF16(byte* p) => BFloat16Bits.ToSingle(*(ushort*)p);

    /// <summary>Stores an f32 as bf16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreBF16(float v, byte* p) => *(ushort*)p = BFloat16Bits.FromSingle(v);

    /// <summary>Loads an f16 as f32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LoadF16(byte* p) => (float)*(Half*)p;

    /// <summary>Stores an f32 as f16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreF16(float v, byte* p) => *(Half*)p = (Half)v;

    /// <summary>Loads a bool as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LoadBool(byte* p) => *p != 0 ? 1f : 0f;

    /// <summary>Stores a bool (nonzero is true).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreBool(float v, byte* p) => *p = v != 0 ? (byte)1 : (byte)0;

    /// <summary>The value itself.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Splat(float x) => x;

    /// <summary>1 where x is nonzero (NaN included), else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToBool(float x) => x != 0 ? 1f : 0f;

    /// <summary>Rounds to the nearest f16 value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundF16(float x) => (float)(Half)x;

    /// <summary>Rounds to the nearest bf16 value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundBF16(float x) => BFloat16Bits.ToSingle(BFloat16Bits.FromSingle(x));

    /// <summary>c ? a : b (c is 0/1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Where(float c, float a, float b) => c != 0 ? a : b;
}
