using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Candle.Runtime.Threading;

namespace Candle.Runtime.Kernels.Gemm;

/// <summary>
/// The one-row product c[N] = a[K] · B[K, N] over a weight already packed into the microkernel's panels
/// (<see cref="PackedB"/>): panel j holds K rows of <see cref="PackedB.PanelWidth"/> consecutive columns, so each panel
/// is one contiguous stream and a[p] is broadcast against a row of it. Panels are split over the pool. This lets a
/// decode step read the same copy a prefill packed, instead of keeping the original layout resident as well.
/// </summary>
internal static unsafe class PackedGemv
{
    /// <summary>Panels handed to a thread at least.</summary>
    private const int MinPanelsPerChunk = 2;

    /// <summary>Computes c = epilogue(a · B); bfloat16 panels are widened as they are read.</summary>
    /// <typeparam name="TEpilogue">Applied to each finished panel of c (as a one-row tile).</typeparam>
    /// <param name="a">The row a[K].</param>
    /// <param name="aStride">Elements between a[p] and a[p + 1].</param>
    /// <param name="b">The packed weight.</param>
    /// <param name="c">The result c[N], dense.</param>
    /// <param name="epilogue">The epilogue.</param>
    /// <param name="pool">The pool the panels are split over.</param>
    public static void Multiply<TEpilogue>(float* a, long aStride, PackedB b, float* c, in TEpilogue epilogue, WorkerPool pool)
        where TEpilogue : struct, IGemmEpilogue
    {
        int pw = b.PanelWidth;
        int panels = (b.N + pw - 1) / pw;
        var body = new Body<TEpilogue>
        {
            A = a, AStride = aStride, B = b.IsBf16 ? null : b.Data, B16 = b.IsBf16 ? b.Bf16Data : null, C = c, K = b.K, N = b.N, Width = pw, Kind = b.Kind, Epilogue = epilogue,
        };
        if (pool.Threads == 1 || panels < 2 * MinPanelsPerChunk)
        {
            body.Invoke(0, panels);
        }
        else
        {
            pool.ParallelFor(panels, MinPanelsPerChunk, ref body);
        }

        GC.KeepAlive(b);
    }

    private struct Body<TEpilogue> : IParallelBody
        where TEpilogue : struct, IGemmEpilogue
    {
        public float* A;
        public long AStride;
        public float* B;
        public ushort* B16;
        public float* C;
        public int K;
        public int N;
        public int Width;
        public SgemmKernelKind Kind;
        public TEpilogue Epilogue;

        public readonly void Invoke(int start, int end)
        {
            float* partial = stackalloc float[64];
            for (int j = start; j < end; j++)
            {
                int col0 = j * Width;
                int cols = Math.Min(Width, N - col0);
                float* dst = cols == Width ? C + col0 : partial;
                if (B16 != null)
                {
                    ushort* panel16 = B16 + ((long)j * K * Width);
                    if (Kind == SgemmKernelKind.Vector256 && Width == 24 && Avx2.IsSupported && Fma.IsSupported)
                    {
                        Panel24(A, AStride, panel16, K, dst);
                    }
                    else if (Kind == SgemmKernelKind.Vector512 && Width == 32 && Avx512F.IsSupported)
                    {
                        Panel32(A, AStride, panel16, K, dst);
                    }
                    else
                    {
                        PanelScalar(A, AStride, panel16, K, Width, dst);
                    }
                }
                else
                {
                    Panel(A, AStride, B + ((long)j * K * Width), K, Width, Kind, dst);
                }

                if (cols != Width)
                {
                    for (int i = 0; i < cols; i++) C[col0 + i] = partial[i];
                }

                Epilogue.Apply(C + col0, N, 0, col0, 1, cols);
            }
        }

        private static void Panel(float* a, long aStride, float* panel, int k, int width, SgemmKernelKind kind, float* dst)
        {
            {
                if (kind == SgemmKernelKind.Vector256 && width == 24 && Avx2.IsSupported && Fma.IsSupported)
                {
                    Panel24(a, aStride, panel, k, dst);
                }
                else if (kind == SgemmKernelKind.Vector512 && width == 32 && Avx512F.IsSupported)
                {
                    Panel32(a, aStride, panel, k, dst);
                }
                else
                {
                    PanelScalar(a, aStride, panel, k, width, dst);
                }
            }
        }
    }

    // Two rows of the panel per step into two sets of accumulators hide the multiply-add latency.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Panel24(float* a, long aStride, float* p, int k, float* dst)
    {
        Vector256<float> s0 = default, s1 = default, s2 = default, t0 = default, t1 = default, t2 = default;
        int q = 0;
        for (; q + 2 <= k; q += 2, p += 48)
        {
            var x0 = Vector256.Create(a[q * aStride]);
            var x1 = Vector256.Create(a[(q + 1) * aStride]);
            s0 = Fma.MultiplyAdd(Vector256.Load(p), x0, s0);
            s1 = Fma.MultiplyAdd(Vector256.Load(p + 8), x0, s1);
            s2 = Fma.MultiplyAdd(Vector256.Load(p + 16), x0, s2);
            t0 = Fma.MultiplyAdd(Vector256.Load(p + 24), x1, t0);
            t1 = Fma.MultiplyAdd(Vector256.Load(p + 32), x1, t1);
            t2 = Fma.MultiplyAdd(Vector256.Load(p + 40), x1, t2);
        }

        if (q < k)
        {
            var x0 = Vector256.Create(a[q * aStride]);
            s0 = Fma.MultiplyAdd(Vector256.Load(p), x0, s0);
            s1 = Fma.MultiplyAdd(Vector256.Load(p + 8), x0, s1);
            s2 = Fma.MultiplyAdd(Vector256.Load(p + 16), x0, s2);
        }

        (s0 + t0).Store(dst);
        (s1 + t1).Store(dst + 8);
        (s2 + t2).Store(dst + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Panel32(float* a, long aStride, float* p, int k, float* dst)
    {
        Vector512<float> s0 = default, s1 = default, t0 = default, t1 = default;
        int q = 0;
        for (; q + 2 <= k; q += 2, p += 64)
        {
            var x0 = Vector512.Create(a[q * aStride]);
            var x1 = Vector512.Create(a[(q + 1) * aStride]);
            s0 = Avx512F.FusedMultiplyAdd(Vector512.Load(p), x0, s0);
            s1 = Avx512F.FusedMultiplyAdd(Vector512.Load(p + 16), x0, s1);
            t0 = Avx512F.FusedMultiplyAdd(Vector512.Load(p + 32), x1, t0);
            t1 = Avx512F.FusedMultiplyAdd(Vector512.Load(p + 48), x1, t1);
        }

        if (q < k)
        {
            var x0 = Vector512.Create(a[q * aStride]);
            s0 = Avx512F.FusedMultiplyAdd(Vector512.Load(p), x0, s0);
            s1 = Avx512F.FusedMultiplyAdd(Vector512.Load(p + 16), x0, s1);
        }

        (s0 + t0).Store(dst);
        (s1 + t1).Store(dst + 16);
    }

    private static void PanelScalar(float* a, long aStride, float* p, int k, int width, float* dst)
    {
        for (int i = 0; i < width; i++) dst[i] = 0f;
        for (int q = 0; q < k; q++, p += width)
        {
            float x = a[q * aStride];
            for (int i = 0; i < width; i++) dst[i] = MathF.FusedMultiplyAdd(p[i], x, dst[i]);
        }
    }

    // Eight bfloat16 values zero-extended to 32 bits and shifted into the top half: eight exact float32 values.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Load8(ushort* w) => Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(w), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Load16(ushort* w) => Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(Vector256.Load(w)), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Panel24(float* a, long aStride, ushort* p, int k, float* dst)
    {
        Vector256<float> s0 = default, s1 = default, s2 = default, t0 = default, t1 = default, t2 = default;
        int q = 0;
        for (; q + 2 <= k; q += 2, p += 48)
        {
            var x0 = Vector256.Create(a[q * aStride]);
            var x1 = Vector256.Create(a[(q + 1) * aStride]);
            s0 = Fma.MultiplyAdd(Load8(p), x0, s0);
            s1 = Fma.MultiplyAdd(Load8(p + 8), x0, s1);
            s2 = Fma.MultiplyAdd(Load8(p + 16), x0, s2);
            t0 = Fma.MultiplyAdd(Load8(p + 24), x1, t0);
            t1 = Fma.MultiplyAdd(Load8(p + 32), x1, t1);
            t2 = Fma.MultiplyAdd(Load8(p + 40), x1, t2);
        }

        if (q < k)
        {
            var x0 = Vector256.Create(a[q * aStride]);
            s0 = Fma.MultiplyAdd(Load8(p), x0, s0);
            s1 = Fma.MultiplyAdd(Load8(p + 8), x0, s1);
            s2 = Fma.MultiplyAdd(Load8(p + 16), x0, s2);
        }

        (s0 + t0).Store(dst);
        (s1 + t1).Store(dst + 8);
        (s2 + t2).Store(dst + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Panel32(float* a, long aStride, ushort* p, int k, float* dst)
    {
        Vector512<float> s0 = default, s1 = default, t0 = default, t1 = default;
        int q = 0;
        for (; q + 2 <= k; q += 2, p += 64)
        {
            var x0 = Vector512.Create(a[q * aStride]);
            var x1 = Vector512.Create(a[(q + 1) * aStride]);
            s0 = Avx512F.FusedMultiplyAdd(Load16(p), x0, s0);
            s1 = Avx512F.FusedMultiplyAdd(Load16(p + 16), x0, s1);
            t0 = Avx512F.FusedMultiplyAdd(Load16(p + 32), x1, t0);
            t1 = Avx512F.FusedMultiplyAdd(Load16(p + 48), x1, t1);
        }

        if (q < k)
        {
            var x0 = Vector512.Create(a[q * aStride]);
            s0 = Avx512F.FusedMultiplyAdd(Load16(p), x0, s0);
            s1 = Avx512F.FusedMultiplyAdd(Load16(p + 16), x0, s1);
        }

        (s0 + t0).Store(dst);
        (s1 + t1).Store(dst + 16);
    }

    private static void PanelScalar(float* a, long aStride, ushort* p, int k, int width, float* dst)
    {
        for (int i = 0; i < width; i++) dst[i] = 0f;
        for (int q = 0; q < k; q++, p += width)
        {
            float x = a[q * aStride];
            for (int i = 0; i < width; i++) dst[i] = MathF.FusedMultiplyAdd(BitConverter.Int32BitsToSingle(p[i] << 16), x, dst[i]);
        }
    }
}
