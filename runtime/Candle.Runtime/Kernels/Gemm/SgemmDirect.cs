using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Candle.Runtime.Threading;

namespace Candle.Runtime.Kernels.Gemm;

/// <summary>
/// Matrix products without packing, row by row: matrix-vector products (M = 1 decoding, N = 1) and small
/// problems where packing costs more than it saves. B is streamed either along its rows (vectorized over N)
/// or, when its columns are contiguous (a transposed weight W[N, K]), as dot products vectorized over K.
/// </summary>
internal static unsafe class SgemmDirect
{
    private const int AxpyBlock = 256;
    private const int MinWorkPerChunk = 1 << 15;

    public static void Run<TEpilogue>(ref GemmProblem problem, ref TEpilogue epilogue, WorkerPool pool, int threads, int panelWidth)
        where TEpilogue : struct, IGemmEpilogue
    {
        if (problem.PackedB == null && problem.N == 1 && problem.M > 1 && problem.AColStride == 1)
        {
            RunColumn(ref problem, ref epilogue, pool, threads);
            return;
        }

        if (problem.PackedB == null && problem.M == 1 && problem.BColStride == 1)
        {
            RunRowVector(ref problem, ref epilogue, pool, threads);
            return;
        }

        var body = new ColumnsBody<TEpilogue> { Problem = problem, Epilogue = epilogue, PanelWidth = panelWidth };
        int groupWidth;
        if (problem.PackedB != null)
        {
            body.Form = Form.Packed;
            groupWidth = panelWidth;
        }
        else if (problem.BColStride == 1)
        {
            body.Form = Form.Axpy;
            groupWidth = 64;
        }
        else if (problem.BRowStride == 1)
        {
            body.Form = Form.Dot;
            groupWidth = 4;
        }
        else
        {
            body.Form = Form.Scalar;
            groupWidth = 4;
        }

        body.GroupWidth = groupWidth;
        int groups = (problem.N + groupWidth - 1) / groupWidth;
        long workPerGroup = Math.Max(1, (long)groupWidth * problem.K * problem.M);
        int minPerChunk = (int)Math.Clamp(MinWorkPerChunk / workPerGroup, 1, int.MaxValue);
        if (threads > 1)
        {
            pool.ParallelFor(groups, minPerChunk, ref body);
        }
        else
        {
            body.Invoke(0, groups);
        }
    }

    // C[:, 0] = A x with A's rows contiguous: one dot product per row of A.
    private static void RunColumn<TEpilogue>(ref GemmProblem problem, ref TEpilogue epilogue, WorkerPool pool, int threads)
        where TEpilogue : struct, IGemmEpilogue
    {
        int k = problem.K;
        float* x = problem.B;
        if (problem.BRowStride != 1)
        {
            x = GemmBuffers.X(k);
            for (int p = 0; p < k; p++)
            {
                x[p] = problem.B[p * problem.BRowStride];
            }
        }

        var body = new RowsDotBody<TEpilogue> { Problem = problem, Epilogue = epilogue, X = x };
        int minPerChunk = Math.Max(1, MinWorkPerChunk / Math.Max(1, k));
        if (threads > 1)
        {
            pool.ParallelFor(problem.M, minPerChunk, ref body);
        }
        else
        {
            body.Invoke(0, problem.M);
        }
    }

    // y[0, N) = x B with B's rows contiguous: each thread streams a contiguous range of B's rows into its
    // own partial sums (reading B strictly sequentially), then the partials are added.
    private static void RunRowVector<TEpilogue>(ref GemmProblem problem, ref TEpilogue epilogue, WorkerPool pool, int threads)
        where TEpilogue : struct, IGemmEpilogue
    {
        int n = problem.N;
        int parts = Math.Max(1, Math.Min(threads, problem.K / 64));
        float* partials = GemmBuffers.X((long)parts * n);
        var body = new SplitKBody { Problem = problem, Partials = partials, Parts = parts };
        if (parts > 1)
        {
            pool.ParallelFor(parts, ref body);
        }
        else
        {
            body.Invoke(0, 1);
        }

        for (int t = 1; t < parts; t++)
        {
            EpilogueMath.AddRow(partials, partials + ((long)t * n), n);
        }

        StoreRow(problem.C, partials, n, problem.Alpha, problem.Beta);
        if (typeof(TEpilogue) != typeof(NoEpilogue))
        {
            epilogue.Apply(problem.C, (int)problem.Ldc, problem.RowOffset, 0, 1, n);
        }
    }

    private static void Store(float* c, float value, float alpha, float beta)
    {
        float r = alpha * value;
        *c = beta == 0f ? r : r + (beta * *c);
    }

    private static void StoreRow(float* c, float* acc, int n, float alpha, float beta)
    {
        int j = 0;
        var va = Vector256.Create(alpha);
        if (beta == 0f)
        {
            for (; j + 8 <= n; j += 8)
            {
                (va * Vector256.Load(acc + j)).Store(c + j);
            }
        }
        else
        {
            var vb = Vector256.Create(beta);
            for (; j + 8 <= n; j += 8)
            {
                Vector256.FusedMultiplyAdd(va, Vector256.Load(acc + j), vb * Vector256.Load(c + j)).Store(c + j);
            }
        }

        for (; j < n; j++)
        {
            Store(c + j, acc[j], alpha, beta);
        }
    }

    // Dot product of x and y over n elements.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot(float* x, float* y, int n)
    {
        var s0 = Vector256<float>.Zero;
        var s1 = Vector256<float>.Zero;
        int p = 0;
        for (; p + 16 <= n; p += 16)
        {
            s0 = Vector256.FusedMultiplyAdd(Vector256.Load(x + p), Vector256.Load(y + p), s0);
            s1 = Vector256.FusedMultiplyAdd(Vector256.Load(x + p + 8), Vector256.Load(y + p + 8), s1);
        }

        if (p + 8 <= n)
        {
            s0 = Vector256.FusedMultiplyAdd(Vector256.Load(x + p), Vector256.Load(y + p), s0);
            p += 8;
        }

        float s = Vector256.Sum(s0 + s1);
        for (; p < n; p++)
        {
            s += x[p] * y[p];
        }

        return s;
    }

    // Four dot products of x with y0..y3 over n elements.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4(float* x, float* y0, float* y1, float* y2, float* y3, int n, float* result)
    {
        var s0 = Vector256<float>.Zero;
        var s1 = Vector256<float>.Zero;
        var s2 = Vector256<float>.Zero;
        var s3 = Vector256<float>.Zero;
        var t0 = Vector256<float>.Zero;
        var t1 = Vector256<float>.Zero;
        var t2 = Vector256<float>.Zero;
        var t3 = Vector256<float>.Zero;
        int p = 0;
        for (; p + 16 <= n; p += 16)
        {
            var xv = Vector256.Load(x + p);
            var xw = Vector256.Load(x + p + 8);
            s0 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(y0 + p), s0);
            s1 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(y1 + p), s1);
            s2 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(y2 + p), s2);
            s3 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(y3 + p), s3);
            t0 = Vector256.FusedMultiplyAdd(xw, Vector256.Load(y0 + p + 8), t0);
            t1 = Vector256.FusedMultiplyAdd(xw, Vector256.Load(y1 + p + 8), t1);
            t2 = Vector256.FusedMultiplyAdd(xw, Vector256.Load(y2 + p + 8), t2);
            t3 = Vector256.FusedMultiplyAdd(xw, Vector256.Load(y3 + p + 8), t3);
        }

        if (p + 8 <= n)
        {
            var xv = Vector256.Load(x + p);
            s0 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(y0 + p), s0);
            s1 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(y1 + p), s1);
            s2 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(y2 + p), s2);
            s3 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(y3 + p), s3);
            p += 8;
        }

        float r0 = Vector256.Sum(s0 + t0);
        float r1 = Vector256.Sum(s1 + t1);
        float r2 = Vector256.Sum(s2 + t2);
        float r3 = Vector256.Sum(s3 + t3);
        for (; p < n; p++)
        {
            float xp = x[p];
            r0 += xp * y0[p];
            r1 += xp * y1[p];
            r2 += xp * y2[p];
            r3 += xp * y3[p];
        }

        result[0] = r0;
        result[1] = r1;
        result[2] = r2;
        result[3] = r3;
    }

    // acc[0, n) += sum over p of x[p * xStride] * b[p * rowStride + (0, n)].
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Axpy(float* acc, float* x, long xStride, float* b, long rowStride, int k, int n)
    {
        int p = 0;
        for (; p + 4 <= k; p += 4)
        {
            float x0 = x[p * xStride];
            float x1 = x[(p + 1) * xStride];
            float x2 = x[(p + 2) * xStride];
            float x3 = x[(p + 3) * xStride];
            float* b0 = b + (p * rowStride);
            float* b1 = b0 + rowStride;
            float* b2 = b1 + rowStride;
            float* b3 = b2 + rowStride;
            var v0 = Vector256.Create(x0);
            var v1 = Vector256.Create(x1);
            var v2 = Vector256.Create(x2);
            var v3 = Vector256.Create(x3);
            int j = 0;
            for (; j + 8 <= n; j += 8)
            {
                var s = Vector256.Load(acc + j);
                s = Vector256.FusedMultiplyAdd(v0, Vector256.Load(b0 + j), s);
                s = Vector256.FusedMultiplyAdd(v1, Vector256.Load(b1 + j), s);
                s = Vector256.FusedMultiplyAdd(v2, Vector256.Load(b2 + j), s);
                s = Vector256.FusedMultiplyAdd(v3, Vector256.Load(b3 + j), s);
                s.Store(acc + j);
            }

            for (; j < n; j++)
            {
                acc[j] += (x0 * b0[j]) + (x1 * b1[j]) + (x2 * b2[j]) + (x3 * b3[j]);
            }
        }

        for (; p < k; p++)
        {
            float x0 = x[p * xStride];
            float* b0 = b + (p * rowStride);
            var v0 = Vector256.Create(x0);
            int j = 0;
            for (; j + 8 <= n; j += 8)
            {
                Vector256.FusedMultiplyAdd(v0, Vector256.Load(b0 + j), Vector256.Load(acc + j)).Store(acc + j);
            }

            for (; j < n; j++)
            {
                acc[j] += x0 * b0[j];
            }
        }
    }

    // acc[0, nr) = sum over p of x[p * xStride] * panel[p * nr + (0, nr)], for a packed panel of width nr (a multiple of 8).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PanelRow(float* acc, float* x, long xStride, float* panel, int k, int nr)
    {
        for (int v = 0; v < nr; v += 16)
        {
            float* col = panel + v;
            if (v + 16 <= nr)
            {
                var s0 = Vector256<float>.Zero;
                var s1 = Vector256<float>.Zero;
                for (int p = 0; p < k; p++)
                {
                    var xv = Vector256.Create(x[p * xStride]);
                    float* row = col + ((long)p * nr);
                    s0 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(row), s0);
                    s1 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(row + 8), s1);
                }

                s0.Store(acc + v);
                s1.Store(acc + v + 8);
            }
            else
            {
                var s0 = Vector256<float>.Zero;
                for (int p = 0; p < k; p++)
                {
                    s0 = Vector256.FusedMultiplyAdd(Vector256.Create(x[p * xStride]), Vector256.Load(col + ((long)p * nr)), s0);
                }

                s0.Store(acc + v);
            }
        }
    }

    private enum Form
    {
        Axpy,
        Dot,
        Packed,
        Scalar,
    }

    private struct ColumnsBody<TEpilogue> : IParallelBody
        where TEpilogue : struct, IGemmEpilogue
    {
        public GemmProblem Problem;
        public TEpilogue Epilogue;
        public Form Form;
        public int GroupWidth;
        public int PanelWidth;

        public void Invoke(int start, int end)
        {
            int n = Problem.N;
            int col0 = start * GroupWidth;
            int col1 = (int)Math.Min(n, (long)end * GroupWidth);
            switch (Form)
            {
                case Form.Axpy:
                    RunAxpy(col0, col1);
                    break;
                case Form.Dot:
                    RunDot(col0, col1);
                    break;
                case Form.Packed:
                    RunPacked(col0, col1);
                    break;
                default:
                    RunScalar(col0, col1);
                    break;
            }
        }

        private readonly bool HasEpilogue => typeof(TEpilogue) != typeof(NoEpilogue);

        private void Finish(int row, int col, int cols)
        {
            if (HasEpilogue)
            {
                float* c = Problem.C + (row * Problem.Ldc) + col;
                Epilogue.Apply(c, (int)Problem.Ldc, Problem.RowOffset + row, col, 1, cols);
            }
        }

        private void RunAxpy(int col0, int col1)
        {
            float* acc = stackalloc float[AxpyBlock];
            for (int j0 = col0; j0 < col1; j0 += AxpyBlock)
            {
                int w = Math.Min(AxpyBlock, col1 - j0);
                for (int i = 0; i < Problem.M; i++)
                {
                    new Span<float>(acc, w).Clear();
                    Axpy(acc, Problem.A + (i * Problem.ARowStride), Problem.AColStride, Problem.B + j0, Problem.BRowStride, Problem.K, w);
                    StoreRow(Problem.C + (i * Problem.Ldc) + j0, acc, w, Problem.Alpha, Problem.Beta);
                    Finish(i, j0, w);
                }
            }
        }

        private void RunDot(int col0, int col1)
        {
            const int block = 16;
            int k = Problem.K;
            int m = Problem.M;
            float* a = Problem.A;
            long aRowStride = Problem.ARowStride;
            if (Problem.AColStride != 1)
            {
                float* copy = GemmBuffers.X((long)m * k);
                for (int i = 0; i < m; i++)
                {
                    for (int p = 0; p < k; p++)
                    {
                        copy[((long)i * k) + p] = a[(i * aRowStride) + (p * Problem.AColStride)];
                    }
                }

                a = copy;
                aRowStride = k;
            }

            float* result = stackalloc float[4];
            long cs = Problem.BColStride;

            // Blocks of columns of B stay in cache while every row of A passes over them.
            for (int j0 = col0; j0 < col1; j0 += block)
            {
                int j1 = Math.Min(col1, j0 + block);
                for (int i = 0; i < m; i++)
                {
                    float* x = a + (i * aRowStride);
                    float* crow = Problem.C + (i * Problem.Ldc);
                    int j = j0;
                    for (; j + 4 <= j1; j += 4)
                    {
                        float* y = Problem.B + (j * cs);
                        Dot4(x, y, y + cs, y + (2 * cs), y + (3 * cs), k, result);
                        for (int t = 0; t < 4; t++)
                        {
                            Store(crow + j + t, result[t], Problem.Alpha, Problem.Beta);
                        }
                    }

                    for (; j < j1; j++)
                    {
                        Store(crow + j, Dot(x, Problem.B + (j * cs), k), Problem.Alpha, Problem.Beta);
                    }

                    Finish(i, j0, j1 - j0);
                }
            }
        }

        private void RunPacked(int col0, int col1)
        {
            int nr = PanelWidth;
            int k = Problem.K;
            float* acc = stackalloc float[nr];
            for (int i = 0; i < Problem.M; i++)
            {
                float* x = Problem.A + (i * Problem.ARowStride);
                float* crow = Problem.C + (i * Problem.Ldc);
                for (int j0 = col0; j0 < col1; j0 += nr)
                {
                    int w = Math.Min(nr, col1 - j0);
                    PanelRow(acc, x, Problem.AColStride, Problem.PackedB + ((long)(j0 / nr) * k * nr), k, nr);
                    StoreRow(crow + j0, acc, w, Problem.Alpha, Problem.Beta);
                }

                Finish(i, col0, col1 - col0);
            }
        }

        private void RunScalar(int col0, int col1)
        {
            for (int i = 0; i < Problem.M; i++)
            {
                float* x = Problem.A + (i * Problem.ARowStride);
                float* crow = Problem.C + (i * Problem.Ldc);
                for (int j = col0; j < col1; j++)
                {
                    float* y = Problem.B + (j * Problem.BColStride);
                    float s = 0;
                    for (int p = 0; p < Problem.K; p++)
                    {
                        s += x[p * Problem.AColStride] * y[p * Problem.BRowStride];
                    }

                    Store(crow + j, s, Problem.Alpha, Problem.Beta);
                }

                Finish(i, col0, col1 - col0);
            }
        }
    }

    private struct SplitKBody : IParallelBody
    {
        private const int ColumnBlock = 8192;

        public GemmProblem Problem;
        public float* Partials;
        public int Parts;

        public readonly void Invoke(int start, int end)
        {
            int n = Problem.N;
            for (int part = start; part < end; part++)
            {
                int k0 = (int)((long)Problem.K * part / Parts);
                int k1 = (int)((long)Problem.K * (part + 1) / Parts);
                float* acc = Partials + ((long)part * n);
                new Span<float>(acc, n).Clear();
                for (int j0 = 0; j0 < n; j0 += ColumnBlock)
                {
                    int w = Math.Min(ColumnBlock, n - j0);
                    Axpy(
                        acc + j0,
                        Problem.A + (k0 * Problem.AColStride),
                        Problem.AColStride,
                        Problem.B + (k0 * Problem.BRowStride) + j0,
                        Problem.BRowStride,
                        k1 - k0,
                        w);
                }
            }
        }
    }

    private struct RowsDotBody<TEpilogue> : IParallelBody
        where TEpilogue : struct, IGemmEpilogue
    {
        public GemmProblem Problem;
        public TEpilogue Epilogue;
        public float* X;

        public void Invoke(int start, int end)
        {
            long ldc = Problem.Ldc;
            long rs = Problem.ARowStride;
            float* result = stackalloc float[4];
            int i = start;
            for (; i + 4 <= end; i += 4)
            {
                float* a = Problem.A + (i * rs);
                Dot4(X, a, a + rs, a + (2 * rs), a + (3 * rs), Problem.K, result);
                for (int t = 0; t < 4; t++)
                {
                    Store(Problem.C + ((i + t) * ldc), result[t], Problem.Alpha, Problem.Beta);
                }
            }

            for (; i < end; i++)
            {
                Store(Problem.C + (i * ldc), Dot(X, Problem.A + (i * rs), Problem.K), Problem.Alpha, Problem.Beta);
            }

            if (typeof(TEpilogue) != typeof(NoEpilogue))
            {
                Epilogue.Apply(Problem.C + (start * ldc), (int)ldc, Problem.RowOffset + start, 0, end - start, 1);
            }
        }
    }
}
