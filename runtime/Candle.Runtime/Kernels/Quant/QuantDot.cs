using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>The SIMD inner products of 32 quantized values shared by the block dot products.</summary>
internal static class QuantDot
{
    /// <summary>Σ q[i]·x[i] over 32 signed bytes and 32 floats, in float32 (Vector512, Vector256 or scalar).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float DotSBytesF32(Vector256<sbyte> q, ReadOnlySpan<float> x)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        var (s0, s1) = Vector256.Widen(q);
        if (Vector512.IsHardwareAccelerated)
        {
            var f0 = Vector512.ConvertToSingle(Vector512.WidenLower(s0.ToVector512Unsafe()));
            var f1 = Vector512.ConvertToSingle(Vector512.WidenLower(s1.ToVector512Unsafe()));
            var acc = f0 * Vector512.LoadUnsafe(ref xr);
            acc = Vector512.FusedMultiplyAdd(f1, Vector512.LoadUnsafe(ref xr, 16), acc);
            return Vector512.Sum(acc);
        }

        if (Vector256.IsHardwareAccelerated)
        {
            var (i0, i1) = Vector256.Widen(s0);
            var (i2, i3) = Vector256.Widen(s1);
            var acc = Vector256.ConvertToSingle(i0) * Vector256.LoadUnsafe(ref xr);
            acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(i1), Vector256.LoadUnsafe(ref xr, 8), acc);
            acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(i2), Vector256.LoadUnsafe(ref xr, 16), acc);
            acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(i3), Vector256.LoadUnsafe(ref xr, 24), acc);
            return Vector256.Sum(acc);
        }

        float sum = 0;
        for (int i = 0; i < 32; i++)
        {
            sum += q.GetElement(i) * x[i];
        }

        return sum;
    }

    /// <summary>Σ a[i]·b[i] over 32 signed bytes each, exact in int32 (each product fits a short; pmaddwd where available).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int DotSBytes(Vector256<sbyte> a, Vector256<sbyte> b)
    {
        var (a0, a1) = Vector256.Widen(a);
        var (b0, b1) = Vector256.Widen(b);
        if (Avx2.IsSupported)
        {
            return Vector256.Sum(Avx2.MultiplyAddAdjacent(a0, b0) + Avx2.MultiplyAddAdjacent(a1, b1));
        }

        var (p0, p1) = Vector256.Widen(a0 * b0);
        var (p2, p3) = Vector256.Widen(a1 * b1);
        return Vector256.Sum(p0 + p1 + p2 + p3);
    }

    /// <summary>The 32 values of a Q4_0-style nibble array as signed bytes: low nibbles are values 0..15, high nibbles 16..31, each minus <paramref name="offset"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> UnpackNibbles(ReadOnlySpan<byte> qs16, byte offset)
    {
        var packed = Vector128.Create(qs16);
        var lo = packed & Vector128.Create((byte)0x0F);
        var hi = Vector128.ShiftRightLogical(packed, 4);
        var bytes = Vector256.Create(lo, hi) - Vector256.Create(offset);
        return bytes.AsSByte();
    }
}
