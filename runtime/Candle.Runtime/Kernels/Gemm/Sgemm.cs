using Candle.Runtime.Threading;

namespace Candle.Runtime.Kernels.Gemm;

/// <summary>
/// Single-precision matrix multiplication C[M, N] = alpha * A[M, K] * B[K, N] + beta * C on the CPU,
/// multi-threaded over a <see cref="WorkerPool"/>.
/// </summary>
/// <remarks>
/// <para>
/// A and B are addressed through a row stride and a column stride each (in elements), so transposed or
/// sliced operands need no copy: element (i, p) of A is <c>a[i * aRowStride + p * aColStride]</c>.
/// C is row-major with <c>ldc</c> elements between rows. When <c>beta</c> is 0, C is not read (it may hold NaN).
/// </para>
/// <para>
/// Large problems use packed panels and a register-blocked microkernel (AVX-512, AVX2/FMA or scalar, chosen
/// at run time); matrix-vector products (M = 1 or N = 1) and small problems run without packing.
/// An epilogue (<see cref="IGemmEpilogue"/>) runs on each finished tile of C while it is in cache.
/// </para>
/// </remarks>
public static unsafe class Sgemm
{
    private const long DirectWork = 32 * 32 * 32;
    private const long ParallelWork = 64 * 64 * 64;
    private const int DirectMaxRows = 4;

    /// <summary>The microkernel in use on this processor, such as <c>avx2 6x16</c> or <c>avx512 12x32</c>.</summary>
    public static string KernelName => SgemmKernelSelector.Describe(SgemmKernelSelector.Best);

    /// <summary>Computes C = alpha * A * B + beta * C.</summary>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="n">Columns of B and C.</param>
    /// <param name="k">Columns of A and rows of B.</param>
    /// <param name="a">Address of A[0, 0].</param>
    /// <param name="aRowStride">Elements between A[i, p] and A[i + 1, p].</param>
    /// <param name="aColStride">Elements between A[i, p] and A[i, p + 1].</param>
    /// <param name="b">Address of B[0, 0].</param>
    /// <param name="bRowStride">Elements between B[p, j] and B[p + 1, j].</param>
    /// <param name="bColStride">Elements between B[p, j] and B[p, j + 1].</param>
    /// <param name="c">Address of C[0, 0].</param>
    /// <param name="ldc">Elements between consecutive rows of C (at least <paramref name="n"/> when <paramref name="m"/> &gt; 1).</param>
    /// <param name="alpha">Factor applied to the product.</param>
    /// <param name="beta">Factor applied to the existing C; 0 ignores C's contents.</param>
    /// <param name="pool">The pool to run on; <see cref="WorkerPool.Shared"/> when null.</param>
    /// <exception cref="ArgumentException">A dimension is negative, a pointer is null, or <paramref name="ldc"/> is too small.</exception>
    public static void Multiply(
        int m, int n, int k,
        float* a, int aRowStride, int aColStride,
        float* b, int bRowStride, int bColStride,
        float* c, int ldc,
        float alpha = 1f, float beta = 0f, WorkerPool? pool = null)
    {
        var none = default(NoEpilogue);
        Multiply(m, n, k, a, aRowStride, aColStride, b, bRowStride, bColStride, c, ldc, in none, alpha, beta, pool);
    }

    /// <summary>Computes C = epilogue(alpha * A * B + beta * C), the epilogue applied to each finished tile.</summary>
    /// <typeparam name="TEpilogue">The epilogue, a struct so it is inlined into the store.</typeparam>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="n">Columns of B and C.</param>
    /// <param name="k">Columns of A and rows of B.</param>
    /// <param name="a">Address of A[0, 0].</param>
    /// <param name="aRowStride">Elements between A[i, p] and A[i + 1, p].</param>
    /// <param name="aColStride">Elements between A[i, p] and A[i, p + 1].</param>
    /// <param name="b">Address of B[0, 0].</param>
    /// <param name="bRowStride">Elements between B[p, j] and B[p + 1, j].</param>
    /// <param name="bColStride">Elements between B[p, j] and B[p, j + 1].</param>
    /// <param name="c">Address of C[0, 0].</param>
    /// <param name="ldc">Elements between consecutive rows of C.</param>
    /// <param name="epilogue">Applied to each finished tile of C.</param>
    /// <param name="alpha">Factor applied to the product.</param>
    /// <param name="beta">Factor applied to the existing C; 0 ignores C's contents.</param>
    /// <param name="pool">The pool to run on; <see cref="WorkerPool.Shared"/> when null.</param>
    /// <exception cref="ArgumentException">A dimension is negative, a pointer is null, or <paramref name="ldc"/> is too small.</exception>
    public static void Multiply<TEpilogue>(
        int m, int n, int k,
        float* a, int aRowStride, int aColStride,
        float* b, int bRowStride, int bColStride,
        float* c, int ldc,
        in TEpilogue epilogue,
        float alpha = 1f, float beta = 0f, WorkerPool? pool = null)
        where TEpilogue : struct, IGemmEpilogue
    {
        MultiplyCore(SgemmKernelSelector.Best, SgemmPath.Auto, m, n, k, a, aRowStride, aColStride, b, bRowStride, bColStride, c, ldc, in epilogue, alpha, beta, pool);
    }

    /// <summary>Computes C = alpha * A * B + beta * C with B pre-packed by <see cref="PackB(float*, int, int, int, int)"/>.</summary>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="a">Address of A[0, 0] (M x <see cref="PackedB.K"/>).</param>
    /// <param name="aRowStride">Elements between A[i, p] and A[i + 1, p].</param>
    /// <param name="aColStride">Elements between A[i, p] and A[i, p + 1].</param>
    /// <param name="b">The packed right-hand operand.</param>
    /// <param name="c">Address of C[0, 0] (M x <see cref="PackedB.N"/>).</param>
    /// <param name="ldc">Elements between consecutive rows of C.</param>
    /// <param name="alpha">Factor applied to the product.</param>
    /// <param name="beta">Factor applied to the existing C; 0 ignores C's contents.</param>
    /// <param name="pool">The pool to run on; <see cref="WorkerPool.Shared"/> when null.</param>
    /// <exception cref="ArgumentException">A dimension is negative, a pointer is null, or <paramref name="ldc"/> is too small.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="b"/> was disposed.</exception>
    public static void Multiply(
        int m, float* a, int aRowStride, int aColStride, PackedB b, float* c, int ldc,
        float alpha = 1f, float beta = 0f, WorkerPool? pool = null)
    {
        var none = default(NoEpilogue);
        Multiply(m, a, aRowStride, aColStride, b, c, ldc, in none, alpha, beta, pool);
    }

    /// <summary>Computes C = epilogue(alpha * A * B + beta * C) with B pre-packed.</summary>
    /// <typeparam name="TEpilogue">The epilogue, a struct so it is inlined into the store.</typeparam>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="a">Address of A[0, 0] (M x <see cref="PackedB.K"/>).</param>
    /// <param name="aRowStride">Elements between A[i, p] and A[i + 1, p].</param>
    /// <param name="aColStride">Elements between A[i, p] and A[i, p + 1].</param>
    /// <param name="b">The packed right-hand operand.</param>
    /// <param name="c">Address of C[0, 0] (M x <see cref="PackedB.N"/>).</param>
    /// <param name="ldc">Elements between consecutive rows of C.</param>
    /// <param name="epilogue">Applied to each finished tile of C.</param>
    /// <param name="alpha">Factor applied to the product.</param>
    /// <param name="beta">Factor applied to the existing C; 0 ignores C's contents.</param>
    /// <param name="pool">The pool to run on; <see cref="WorkerPool.Shared"/> when null.</param>
    /// <exception cref="ArgumentException">A dimension is negative, a pointer is null, or <paramref name="ldc"/> is too small.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="b"/> was disposed.</exception>
    public static void Multiply<TEpilogue>(
        int m, float* a, int aRowStride, int aColStride, PackedB b, float* c, int ldc,
        in TEpilogue epilogue,
        float alpha = 1f, float beta = 0f, WorkerPool? pool = null)
        where TEpilogue : struct, IGemmEpilogue
    {
        MultiplyPackedCore(SgemmPath.Auto, m, a, aRowStride, aColStride, b, c, ldc, in epilogue, alpha, beta, pool);
    }

    /// <summary>
    /// Computes C[i] = alpha * A[i] * B[i] + beta * C[i] for <paramref name="batch"/> matrices addressed by batch
    /// strides; a batch stride of 0 for A or B reuses (broadcasts) one matrix across the batch.
    /// </summary>
    /// <param name="batch">Number of products.</param>
    /// <param name="m">Rows of each A and C.</param>
    /// <param name="n">Columns of each B and C.</param>
    /// <param name="k">Columns of each A and rows of each B.</param>
    /// <param name="a">Address of A[0][0, 0].</param>
    /// <param name="aBatchStride">Elements between A[i] and A[i + 1]; 0 broadcasts A.</param>
    /// <param name="aRowStride">Elements between consecutive rows of A.</param>
    /// <param name="aColStride">Elements between consecutive columns of A.</param>
    /// <param name="b">Address of B[0][0, 0].</param>
    /// <param name="bBatchStride">Elements between B[i] and B[i + 1]; 0 broadcasts B.</param>
    /// <param name="bRowStride">Elements between consecutive rows of B.</param>
    /// <param name="bColStride">Elements between consecutive columns of B.</param>
    /// <param name="c">Address of C[0][0, 0].</param>
    /// <param name="cBatchStride">Elements between C[i] and C[i + 1]; must not be 0 when <paramref name="batch"/> &gt; 1.</param>
    /// <param name="ldc">Elements between consecutive rows of C.</param>
    /// <param name="alpha">Factor applied to the products.</param>
    /// <param name="beta">Factor applied to the existing C; 0 ignores C's contents.</param>
    /// <param name="pool">The pool to run on; <see cref="WorkerPool.Shared"/> when null.</param>
    /// <exception cref="ArgumentException">A dimension is negative, a pointer is null, or a stride of C is invalid.</exception>
    public static void MultiplyBatched(
        int batch, int m, int n, int k,
        float* a, long aBatchStride, int aRowStride, int aColStride,
        float* b, long bBatchStride, int bRowStride, int bColStride,
        float* c, long cBatchStride, int ldc,
        float alpha = 1f, float beta = 0f, WorkerPool? pool = null)
    {
        var none = default(NoEpilogue);
        MultiplyBatched(batch, m, n, k, a, aBatchStride, aRowStride, aColStride, b, bBatchStride, bRowStride, bColStride, c, cBatchStride, ldc, in none, alpha, beta, pool);
    }

    /// <summary>
    /// Batched multiplication with an epilogue; the epilogue sees row indices counted across batches
    /// (<c>batchIndex * m + row</c>).
    /// </summary>
    /// <typeparam name="TEpilogue">The epilogue, a struct so it is inlined into the store.</typeparam>
    /// <param name="batch">Number of products.</param>
    /// <param name="m">Rows of each A and C.</param>
    /// <param name="n">Columns of each B and C.</param>
    /// <param name="k">Columns of each A and rows of each B.</param>
    /// <param name="a">Address of A[0][0, 0].</param>
    /// <param name="aBatchStride">Elements between A[i] and A[i + 1]; 0 broadcasts A.</param>
    /// <param name="aRowStride">Elements between consecutive rows of A.</param>
    /// <param name="aColStride">Elements between consecutive columns of A.</param>
    /// <param name="b">Address of B[0][0, 0].</param>
    /// <param name="bBatchStride">Elements between B[i] and B[i + 1]; 0 broadcasts B.</param>
    /// <param name="bRowStride">Elements between consecutive rows of B.</param>
    /// <param name="bColStride">Elements between consecutive columns of B.</param>
    /// <param name="c">Address of C[0][0, 0].</param>
    /// <param name="cBatchStride">Elements between C[i] and C[i + 1]; must not be 0 when <paramref name="batch"/> &gt; 1.</param>
    /// <param name="ldc">Elements between consecutive rows of C.</param>
    /// <param name="epilogue">Applied to each finished tile of each C.</param>
    /// <param name="alpha">Factor applied to the products.</param>
    /// <param name="beta">Factor applied to the existing C; 0 ignores C's contents.</param>
    /// <param name="pool">The pool to run on; <see cref="WorkerPool.Shared"/> when null.</param>
    /// <exception cref="ArgumentException">A dimension is negative, a pointer is null, or a stride of C is invalid.</exception>
    public static void MultiplyBatched<TEpilogue>(
        int batch, int m, int n, int k,
        float* a, long aBatchStride, int aRowStride, int aColStride,
        float* b, long bBatchStride, int bRowStride, int bColStride,
        float* c, long cBatchStride, int ldc,
        in TEpilogue epilogue,
        float alpha = 1f, float beta = 0f, WorkerPool? pool = null)
        where TEpilogue : struct, IGemmEpilogue
    {
        MultiplyBatchedCore(SgemmKernelSelector.Best, SgemmPath.Auto, batch, m, n, k, a, aBatchStride, aRowStride, aColStride, b, bBatchStride, bRowStride, bColStride, c, cBatchStride, ldc, in epilogue, alpha, beta, pool);
    }

    /// <summary>Computes C = A * B for contiguous row-major matrices held in spans.</summary>
    /// <param name="a">A, M x K row-major.</param>
    /// <param name="b">B, K x N row-major.</param>
    /// <param name="c">C, M x N row-major; overwritten.</param>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="n">Columns of B and C.</param>
    /// <param name="k">Columns of A and rows of B.</param>
    /// <param name="pool">The pool to run on; <see cref="WorkerPool.Shared"/> when null.</param>
    /// <exception cref="ArgumentException">A span is shorter than its matrix or a dimension is negative.</exception>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, WorkerPool? pool = null)
    {
        CheckDims(m, n, k);
        CheckLength(a.Length, (long)m * k, "A", m, k, nameof(a));
        CheckLength(b.Length, (long)k * n, "B", k, n, nameof(b));
        CheckLength(c.Length, (long)m * n, "C", m, n, nameof(c));
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            var none = default(NoEpilogue);
            MultiplyCore(SgemmKernelSelector.Best, SgemmPath.Auto, m, n, k, pa, k, 1, pb, n, 1, pc, n, in none, 1f, 0f, pool);
        }
    }

    /// <summary>
    /// Copies B[K, N] into the microkernel's panel layout once, for weights that are multiplied many times.
    /// </summary>
    /// <param name="b">Address of B[0, 0].</param>
    /// <param name="k">Rows of B.</param>
    /// <param name="n">Columns of B.</param>
    /// <param name="rowStride">Elements between B[p, j] and B[p + 1, j] (1 for a transposed weight W[N, K]).</param>
    /// <param name="colStride">Elements between B[p, j] and B[p, j + 1] (K for a transposed weight W[N, K]).</param>
    /// <returns>The packed operand; dispose it when done.</returns>
    /// <exception cref="ArgumentException">A dimension is negative or <paramref name="b"/> is null.</exception>
    public static PackedB PackB(float* b, int k, int n, int rowStride, int colStride) =>
        PackB(SgemmKernelSelector.Best, b, k, n, rowStride, colStride);

    internal static PackedB PackB(SgemmKernelKind kind, float* b, int k, int n, int rowStride, int colStride)
    {
        if (k < 0 || n < 0)
        {
            throw new ArgumentException($"Sgemm.PackB: B shape [{k}, {n}] has a negative dimension");
        }

        if (b == null && (long)k * n > 0)
        {
            throw new ArgumentNullException(nameof(b), $"Sgemm.PackB: B [{k}, {n}] is null");
        }

        var packed = new PackedB(k, n, kind);
        int nr = packed.PanelWidth;
        int panels = (n + nr - 1) / nr;
        if (k > 0 && panels > 0)
        {
            GemmPacking.PackB(packed.Data, (long)k * nr, b, rowStride, colStride, 0, k, n, nr, 0, panels);
        }

        return packed;
    }

    internal static void MultiplyCore<TEpilogue>(
        SgemmKernelKind kind, SgemmPath path,
        int m, int n, int k,
        float* a, long aRowStride, long aColStride,
        float* b, long bRowStride, long bColStride,
        float* c, long ldc,
        in TEpilogue epilogue, float alpha, float beta, WorkerPool? pool)
        where TEpilogue : struct, IGemmEpilogue
    {
        CheckDims(m, n, k);
        CheckPointers(m, n, k, a, b, c);
        CheckLdc(m, n, ldc);
        var problem = new GemmProblem
        {
            M = m, N = n, K = k,
            A = a, ARowStride = aRowStride, AColStride = aColStride,
            B = b, BRowStride = bRowStride, BColStride = bColStride,
            C = c, Ldc = ldc, Alpha = alpha, Beta = beta,
        };
        var epi = epilogue;
        Execute(ref problem, ref epi, pool ?? WorkerPool.Shared, kind, path, 0);
    }

    internal static void MultiplyPackedCore<TEpilogue>(
        SgemmPath path,
        int m, float* a, long aRowStride, long aColStride, PackedB b, float* c, long ldc,
        in TEpilogue epilogue, float alpha, float beta, WorkerPool? pool)
        where TEpilogue : struct, IGemmEpilogue
    {
        ArgumentNullException.ThrowIfNull(b);
        int n = b.N;
        int k = b.K;
        CheckDims(m, n, k);
        float* data = b.IsBf16 ? null : b.Data;
        ushort* bf16 = b.IsBf16 ? b.Bf16Data : null;
        CheckPointers(m, n, k, a, b.IsBf16 ? (float*)bf16 : data, c);
        CheckLdc(m, n, ldc);
        if (m == 1 && alpha == 1f && beta == 0f && path == SgemmPath.Auto)
        {
            // One row: a matrix-vector product streaming each panel once (no packing of A, no tiles).
            PackedGemv.Multiply(a, aColStride, b, c, in epilogue, pool ?? WorkerPool.Shared);
            return;
        }

        var problem = new GemmProblem
        {
            M = m, N = n, K = k,
            A = a, ARowStride = aRowStride, AColStride = aColStride,
            B = null, PackedB = data, PackedBBf16 = bf16,
            C = c, Ldc = ldc, Alpha = alpha, Beta = beta,
        };
        var epi = epilogue;

        // The direct path reads float32 panels only; bfloat16 panels go through the blocked driver, which widens them.
        Execute(ref problem, ref epi, pool ?? WorkerPool.Shared, b.Kind, b.IsBf16 ? SgemmPath.Packed : path, b.PanelWidth);
        GC.KeepAlive(b);
    }

    /// <summary>
    /// C = epilogue(A * B + beta * C) through the blocked driver with B already in <paramref name="kind"/>'s panels
    /// (all of K, zeros past column N) and A either packed the same way (<paramref name="packedA"/>, built for
    /// <paramref name="kind"/>) or read at <paramref name="a"/> and packed per block. Runs on
    /// <paramref name="threads"/> threads of <paramref name="pool"/> (1: on the caller, the pool untouched).
    /// <paramref name="bFromMemory"/>: B is a constant read once per run (not panels the caller has just written), so
    /// the driver fetches its next panel block ahead (<see cref="GemmProblem.BPanelsCached"/> off).
    /// Callers validate the shapes.
    /// </summary>
    internal static void MultiplyPanels<TEpilogue>(
        SgemmKernelKind kind, int m, int n, int k,
        float* a, long aRowStride, long aColStride, float* packedA, float* packedB,
        float* c, long ldc, in TEpilogue epilogue, float beta, WorkerPool pool, int threads, bool bFromMemory = false)
        where TEpilogue : struct, IGemmEpilogue
    {
        var problem = new GemmProblem
        {
            M = m, N = n, K = k,
            A = a, ARowStride = aRowStride, AColStride = aColStride, PackedA = packedA,
            B = null, PackedB = packedB, BPanelsCached = !bFromMemory,
            C = c, Ldc = ldc, Alpha = 1f, Beta = beta,
        };
        var epi = epilogue;
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            ScaleOnly(ref problem, ref epi);
            return;
        }

        RunPacked(kind, ref problem, ref epi, pool, threads);
    }

    internal static void MultiplyBatchedCore<TEpilogue>(
        SgemmKernelKind kind, SgemmPath path,
        int batch, int m, int n, int k,
        float* a, long aBatchStride, long aRowStride, long aColStride,
        float* b, long bBatchStride, long bRowStride, long bColStride,
        float* c, long cBatchStride, long ldc,
        in TEpilogue epilogue, float alpha, float beta, WorkerPool? pool)
        where TEpilogue : struct, IGemmEpilogue
    {
        if (batch < 0)
        {
            throw new ArgumentException($"Sgemm.MultiplyBatched: batch count {batch} is negative", nameof(batch));
        }

        CheckDims(m, n, k);
        CheckPointers(m, n, k, a, b, c);
        CheckLdc(m, n, ldc);
        if (batch > 1 && cBatchStride == 0 && (long)m * n > 0)
        {
            throw new ArgumentException(
                $"Sgemm.MultiplyBatched: C batch stride is 0 for {batch} batches of [{m}, {n}]; each product needs its own output",
                nameof(cBatchStride));
        }

        if (batch == 0)
        {
            return;
        }

        var body = new BatchBody<TEpilogue>
        {
            Template = new GemmProblem
            {
                M = m, N = n, K = k,
                A = a, ARowStride = aRowStride, AColStride = aColStride,
                B = b, BRowStride = bRowStride, BColStride = bColStride,
                C = c, Ldc = ldc, Alpha = alpha, Beta = beta,
            },
            Epilogue = epilogue,
            ABatchStride = aBatchStride,
            BBatchStride = bBatchStride,
            CBatchStride = cBatchStride,
            Kind = kind,
            Path = path,
            Pool = pool ?? WorkerPool.Shared,
        };

        long work = (long)m * n * k;
        int threads = body.Pool.Threads;
        bool acrossBatches = threads > 1 && batch > 1 &&
            (batch >= 4 * threads || (batch >= threads && work < 128L * 128 * 128)) &&
            work * batch >= ParallelWork;
        if (acrossBatches && work >= ParallelWork)
        {
            // Products large enough to be split on their own: each is claimed by whichever thread is free, so a
            // thread that starts late or is interrupted leaves its share to the others.
            body.Pool.ParallelForDynamic(batch, ref body);
        }
        else if (acrossBatches)
        {
            body.Pool.ParallelFor(batch, ref body);
        }
        else
        {
            body.Invoke(0, batch);
        }
    }

    private static void Execute<TEpilogue>(ref GemmProblem problem, ref TEpilogue epilogue, WorkerPool pool, SgemmKernelKind kind, SgemmPath path, int panelWidth)
        where TEpilogue : struct, IGemmEpilogue
    {
        if (problem.M == 0 || problem.N == 0)
        {
            return;
        }

        if (problem.K == 0)
        {
            ScaleOnly(ref problem, ref epilogue);
            return;
        }

        int threads = problem.Work >= ParallelWork ? pool.Threads : 1;
        if (panelWidth == 0)
        {
            panelWidth = SgemmKernelSelector.PanelWidth(kind);
        }

        if (path == SgemmPath.Auto)
        {
            bool contiguousB = problem.BColStride == 1 || problem.BRowStride == 1;
            bool direct = problem.PackedB != null
                ? problem.M == 1
                : problem.M == 1
                  || (problem.M <= DirectMaxRows && contiguousB)
                  || (problem.N == 1 && problem.AColStride == 1)
                  || problem.Work <= DirectWork;
            path = direct ? SgemmPath.Direct : SgemmPath.Packed;
        }

        if (path == SgemmPath.Direct)
        {
            SgemmDirect.Run(ref problem, ref epilogue, pool, threads, panelWidth);
            return;
        }

        RunPacked(kind, ref problem, ref epilogue, pool, threads);
    }

    // K == 0: the product is zero, so C = beta * C, then the epilogue.
    private static void ScaleOnly<TEpilogue>(ref GemmProblem problem, ref TEpilogue epilogue)
        where TEpilogue : struct, IGemmEpilogue
    {
        for (int i = 0; i < problem.M; i++)
        {
            float* row = problem.C + (i * problem.Ldc);
            if (problem.Beta == 0f)
            {
                new Span<float>(row, problem.N).Clear();
            }
            else if (problem.Beta != 1f)
            {
                EpilogueMath.ScaleRow(row, problem.Beta, problem.N);
            }
        }

        if (typeof(TEpilogue) != typeof(NoEpilogue))
        {
            epilogue.Apply(problem.C, (int)problem.Ldc, problem.RowOffset, 0, problem.M, problem.N);
        }
    }

    private static void CheckDims(int m, int n, int k)
    {
        if (m < 0 || n < 0 || k < 0)
        {
            throw new ArgumentException($"Sgemm: shapes A [{m}, {k}] x B [{k}, {n}] have a negative dimension");
        }
    }

    private static void CheckPointers(int m, int n, int k, float* a, float* b, float* c)
    {
        if (a == null && (long)m * k > 0)
        {
            throw new ArgumentNullException(nameof(a), $"Sgemm: A [{m}, {k}] is null");
        }

        if (b == null && (long)k * n > 0)
        {
            throw new ArgumentNullException(nameof(b), $"Sgemm: B [{k}, {n}] is null");
        }

        if (c == null && (long)m * n > 0)
        {
            throw new ArgumentNullException(nameof(c), $"Sgemm: C [{m}, {n}] is null");
        }
    }

    private static void CheckLdc(int m, int n, long ldc)
    {
        if (m > 1 && ldc < n)
        {
            throw new ArgumentException($"Sgemm: ldc {ldc} is less than the {n} columns of C [{m}, {n}]", nameof(ldc));
        }
    }

    private static void CheckLength(int length, long needed, string name, int rows, int cols, string paramName)
    {
        if (length < needed)
        {
            throw new ArgumentException($"Sgemm: {name} [{rows}, {cols}] needs {needed} elements but the span has {length}", paramName);
        }
    }

    private struct BatchBody<TEpilogue> : IParallelBody
        where TEpilogue : struct, IGemmEpilogue
    {
        public GemmProblem Template;
        public TEpilogue Epilogue;
        public long ABatchStride;
        public long BBatchStride;
        public long CBatchStride;
        public SgemmKernelKind Kind;
        public SgemmPath Path;
        public WorkerPool Pool;

        public void Invoke(int start, int end)
        {
            for (int i = start; i < end; i++)
            {
                var problem = Template;
                problem.A += i * ABatchStride;
                problem.B += i * BBatchStride;
                problem.C += i * CBatchStride;
                problem.RowOffset = i * Template.M;
                var epilogue = Epilogue;
                Execute(ref problem, ref epilogue, Pool, Kind, Path, 0);
            }
        }
    }

    /// <summary>The packed driver with the microkernel of <paramref name="kind"/>.</summary>
    private static void RunPacked<TEpilogue>(SgemmKernelKind kind, ref GemmProblem problem, ref TEpilogue epilogue, WorkerPool pool, int threads)
        where TEpilogue : struct, IGemmEpilogue
    {
        switch (kind)
        {
            case SgemmKernelKind.Vector512:
                SgemmPacked.Run<MicroKernel512, TEpilogue>(ref problem, ref epilogue, pool, threads);
                break;
            case SgemmKernelKind.Vector256:
                SgemmPacked.Run<MicroKernel256, TEpilogue>(ref problem, ref epilogue, pool, threads);
                break;
            default:
                SgemmPacked.Run<MicroKernelScalar, TEpilogue>(ref problem, ref epilogue, pool, threads);
                break;
        }
    }
}
