using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Candle.Runtime.Threading;

namespace Candle.Runtime.Kernels.Gemm;

/// <summary>
/// The one-row product c[N] = a[K] · B[K, N] with B a bfloat16 weight read where it lies, each value widened to
/// float32 as it is loaded (a bfloat16 is the top half of a float32, so the widening is exact). Columns of B are
/// split over the pool; with B a transposed weight W[N, K] (row stride 1) each column is a contiguous dot product.
/// </summary>
internal static unsafe class Bf16Gemv
{
    /// <summary>Columns handed to a thread at least (a column is K multiply-adds).</summary>
    private const int MinColumnsPerChunk = 16;

    /// <summary>Computes c = a · B.</summary>
    /// <param name="a">The row a[K], contiguous.</param>
    /// <param name="b">Address of B[0, 0].</param>
    /// <param name="rowStride">Elements between B[p, j] and B[p + 1, j].</param>
    /// <param name="colStride">Elements between B[p, j] and B[p, j + 1].</param>
    /// <param name="c">The result c[N].</param>
    /// <param name="n">Columns of B.</param>
    /// <param name="k">Rows of B.</param>
    /// <param name="pool">The pool the columns are split over.</param>
    public static void Multiply(float* a, ushort* b, long rowStride, long colStride, float* c, int n, int k, WorkerPool pool)
    {
        var body = new Body { A = a, B = b, RowStride = rowStride, ColStride = colStride, C = c, K = k };
        if (pool.Threads == 1 || n < 2 * MinColumnsPerChunk)
        {
            body.Invoke(0, n);
        }
        else
        {
            pool.ParallelFor(n, MinColumnsPerChunk, ref body);
        }
    }

    /// <summary>The float32 value of a bfloat16 bit pattern.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Widen(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot(float* a, ushort* w, int k)
    {
        int p = 0;
        float sum = 0;
        if (Avx2.IsSupported && Fma.IsSupported)
        {
            var s0 = Vector256<float>.Zero;
            var s1 = Vector256<float>.Zero;
            var s2 = Vector256<float>.Zero;
            var s3 = Vector256<float>.Zero;
            for (; p + 32 <= k; p += 32)
            {
                s0 = Fma.MultiplyAdd(Vector256.Load(a + p), Load8(w + p), s0);
                s1 = Fma.MultiplyAdd(Vector256.Load(a + p + 8), Load8(w + p + 8), s1);
                s2 = Fma.MultiplyAdd(Vector256.Load(a + p + 16), Load8(w + p + 16), s2);
                s3 = Fma.MultiplyAdd(Vector256.Load(a + p + 24), Load8(w + p + 24), s3);
            }

            for (; p + 8 <= k; p += 8)
            {
                s0 = Fma.MultiplyAdd(Vector256.Load(a + p), Load8(w + p), s0);
            }

            sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        }

        for (; p < k; p++) sum += a[p] * Widen(w[p]);
        return sum;
    }

    // Eight bfloat16 values zero-extended to 32 bits and shifted into the top half: eight exact float32 values.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Load8(ushort* w) =>
        Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(w), 16).AsSingle();

    private struct Body : IParallelBody
    {
        public float* A;
        public ushort* B;
        public long RowStride;
        public long ColStride;
        public float* C;
        public int K;

        public readonly void Invoke(int start, int end)
        {
            for (int j = start; j < end; j++)
            {
                ushort* col = B + (j * ColStride);
                if (RowStride == 1)
                {
                    C[j] = Dot(A, col, K);
                }
                else
                {
                    float sum = 0;
                    for (int p = 0; p < K; p++) sum += A[p] * Widen(col[p * RowStride]);
                    C[j] = sum;
                }
            }
        }
    }
}
