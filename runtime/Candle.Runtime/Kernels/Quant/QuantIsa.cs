using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// The instruction set the integer block dot products of <see cref="QuantRowDot"/> are compiled for: a type argument of
/// the kernels, so that each instantiation is specialized by the JIT with no branch left at run time.
/// </summary>
internal interface IQuantIsa
{
    /// <summary>True to use the AVX2 / AVX-VNNI byte products; false for the portable code.</summary>
    static abstract bool Avx2 { get; }
}

/// <summary>The host: AVX2 (and AVX-VNNI where present) when the CPU has AVX2 and FMA, the portable code otherwise.</summary>
internal readonly struct HostIsa : IQuantIsa
{
    /// <inheritdoc/>
    public static bool Avx2 => System.Runtime.Intrinsics.X86.Avx2.IsSupported && Fma.IsSupported;
}

/// <summary>The portable code (Vector256/Vector128 operators and scalar sums, usable on every CPU), whatever the host has.</summary>
internal readonly struct PortableIsa : IQuantIsa
{
    /// <inheritdoc/>
    public static bool Avx2 => false;
}

/// <summary>
/// The byte operations of the integer dot products, each as the AVX2 instruction or its portable equivalent. The
/// portable forms compute the same integers exactly (the byte products are summed in int32 without the 16-bit
/// saturation of <c>pmaddubsw</c>, as <c>vpdpbusd</c> does), so a kernel gives the same float32 result on both paths
/// whenever no pair of byte products overflows 16 bits on the AVX2 path.
/// </summary>
internal static class QuantIsa
{
    /// <summary>|x| as unsigned bytes (−128 gives 128), <c>vpabsb</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Abs<T>(Vector256<sbyte> x)
        where T : struct, IQuantIsa
    {
        if (T.Avx2) return Avx2.Abs(x);
        var zero = Vector256<sbyte>.Zero;
        return Vector256.ConditionalSelect(Vector256.LessThan(x, zero), zero - x, x).AsByte();
    }

    /// <summary>y negated where x is negative, zero where x is zero, y elsewhere (wrapping), <c>vpsignb</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Sign<T>(Vector256<sbyte> y, Vector256<sbyte> x)
        where T : struct, IQuantIsa
    {
        if (T.Avx2) return Avx2.Sign(y, x);
        var zero = Vector256<sbyte>.Zero;
        return Vector256.ConditionalSelect(Vector256.LessThan(x, zero), zero - y, Vector256.AndNot(y, Vector256.Equals(x, zero)));
    }

    /// <summary>
    /// Bytes of <paramref name="table"/> picked within each 128-bit half by the low 4 bits of <paramref name="indices"/>,
    /// zero where an index has bit 7 set, <c>vpshufb</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Shuffle<T>(Vector256<byte> table, Vector256<byte> indices)
        where T : struct, IQuantIsa
    {
        if (T.Avx2) return Avx2.Shuffle(table, indices);
        var half = Vector256.Create(Vector128<byte>.Zero, Vector128.Create((byte)16));
        return Vector256.Shuffle(table, (indices & Vector256.Create((byte)0x8F)) + half);
    }

    /// <summary>Σ u[i]·s[i] over 32 unsigned and 32 signed bytes, added into 8 int32 lanes (lane k sums bytes 4k..4k+3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotU8S8<T>(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> s)
        where T : struct, IQuantIsa
    {
        if (T.Avx2) return QuantRowDot.DotU8S8(acc, u, s);

        // Each product fits an int16 (255 · −128 = −32640), so the products are exact before they are widened.
        var (u0, u1) = Vector256.Widen(u);
        var (s0, s1) = Vector256.Widen(s);
        var (i0, i1) = Vector256.Widen(u0.AsInt16() * s0);
        var (i2, i3) = Vector256.Widen(u1.AsInt16() * s1);
        return acc + Vector256.Create(
            Vector128.Sum(i0.GetLower()), Vector128.Sum(i0.GetUpper()), Vector128.Sum(i1.GetLower()), Vector128.Sum(i1.GetUpper()),
            Vector128.Sum(i2.GetLower()), Vector128.Sum(i2.GetUpper()), Vector128.Sum(i3.GetLower()), Vector128.Sum(i3.GetUpper()));
    }
}
