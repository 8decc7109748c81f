using System.Runtime.Intrinsics;

namespace Candle.Runtime.Kernels.Gemm;

/// <summary>
/// Packs a bfloat16 weight B[K, N] into the microkernel's panel layout at its own width: panel <c>j</c> holds K rows of
/// <see cref="PackedB.PanelWidth"/> bfloat16 values (zero beyond N). Products widen the values as they read them
/// (<see cref="PackedGemv"/> for one row; the blocked driver widens each block of a panel once for all the rows it
/// multiplies), so a bfloat16 checkpoint keeps one copy of half the bytes of a float32 one.
/// </summary>
internal static unsafe class Bf16Packing
{
    /// <summary>Packs B (bfloat16 values with the given strides) for the microkernel family <paramref name="kind"/>.</summary>
    /// <param name="kind">The microkernel family whose panel width is used.</param>
    /// <param name="b">Address of B[0, 0].</param>
    /// <param name="k">Rows of B.</param>
    /// <param name="n">Columns of B.</param>
    /// <param name="rowStride">Elements between rows of B.</param>
    /// <param name="colStride">Elements between columns of B.</param>
    /// <returns>The packed panels.</returns>
    public static PackedB PackB(SgemmKernelKind kind, ushort* b, int k, int n, int rowStride, int colStride)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        var packed = new PackedB(k, n, kind, bf16: true);
        int nr = packed.PanelWidth;
        int panels = (n + nr - 1) / nr;
        ushort* data = packed.Bf16Data;
        for (int jp = 0; jp < panels; jp++)
        {
            int j0 = jp * nr;
            int cols = Math.Min(nr, n - j0);
            ushort* panel = data + ((long)jp * k * nr);
            for (int j = 0; j < cols; j++)
            {
                ushort* src = b + ((long)(j0 + j) * colStride);
                for (int p = 0; p < k; p++) panel[((long)p * nr) + j] = src[(long)p * rowStride];
            }

            for (int j = cols; j < nr; j++)
            {
                for (int p = 0; p < k; p++) panel[((long)p * nr) + j] = 0;
            }
        }

        return packed;
    }

    /// <summary>Widens <paramref name="count"/> bfloat16 values to float32 (exact: a bfloat16 is a float32's top half).</summary>
    /// <param name="src">The bfloat16 values.</param>
    /// <param name="dst">The float32 values.</param>
    /// <param name="count">How many.</param>
    public static void Widen(ushort* src, float* dst, long count)
    {
        long i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 16 <= count; i += 16)
            {
                var v = Vector256.Load(src + i);
                var (lo, hi) = Vector256.Widen(v);
                Vector256.ShiftLeft(lo, 16).AsSingle().Store(dst + i);
                Vector256.ShiftLeft(hi, 16).AsSingle().Store(dst + i + 8);
            }
        }

        for (; i < count; i++) dst[i] = BitConverter.Int32BitsToSingle(src[i] << 16);
    }
}
