using System.Buffers;

namespace Candle.Runtime.Kernels.Gemm;

/// <summary>
/// Packs a bfloat16 weight B[K, N] into the float32 panel layout of <see cref="PackedB"/>, widening as it copies:
/// the panels are exactly those <see cref="Sgemm.PackB(float*, int, int, int, int)"/> makes from the float32 weight,
/// without a float32 copy of the whole weight (one panel's columns are widened at a time).
/// </summary>
internal static unsafe class Bf16Packing
{
    /// <summary>Packs B for the microkernel family <paramref name="kind"/>.</summary>
    /// <param name="kind">The microkernel family.</param>
    /// <param name="b">Address of B[0, 0].</param>
    /// <param name="k">Rows of B.</param>
    /// <param name="n">Columns of B.</param>
    /// <param name="rowStride">Elements between B[p, j] and B[p + 1, j].</param>
    /// <param name="colStride">Elements between B[p, j] and B[p, j + 1].</param>
    public static PackedB PackB(SgemmKernelKind kind, ushort* b, int k, int n, int rowStride, int colStride)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        var packed = new PackedB(k, n, kind);
        int nr = packed.PanelWidth;
        int panels = (n + nr - 1) / nr;
        if (k == 0 || panels == 0) return packed;
        var scratch = ArrayPool<float>.Shared.Rent(nr * k);
        try
        {
            fixed (float* s = scratch)
            {
                for (int jp = 0; jp < panels; jp++)
                {
                    int j0 = jp * nr;
                    int cols = Math.Min(nr, n - j0);
                    // The panel's columns widened into a column-major scratch: column j at s + j * k.
                    for (int j = 0; j < cols; j++)
                    {
                        ushort* src = b + ((long)(j0 + j) * colStride);
                        float* dst = s + ((long)j * k);
                        for (int p = 0; p < k; p++) dst[p] = Bf16Gemv.Widen(src[(long)p * rowStride]);
                    }

                    GemmPacking.PackB(packed.Data + ((long)jp * k * nr), (long)k * nr, s, 1, k, 0, k, cols, nr, 0, 1);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scratch);
        }

        return packed;
    }
}
