using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Args;
using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Kernels.Quant;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// Products and lookups over weights stored in ggml blocks (<see cref="QuantizedTensor"/>), read as stored.
/// </summary>
/// <remarks>
/// A product quantizes its activation rows to the weight type's activation format (<see cref="QuantActivations"/>)
/// once per call, then splits the weight rows over the workers of <see cref="KernelPool.Current"/> in contiguous
/// chunks and walks each chunk in tiles: each tile of weight rows is multiplied with every activation row before the
/// next tile is read, so the weights are read once per call and a decode step (one row) streams them once. Types
/// without an integer dot product (and machines without AVX2) dequantize each weight row once and multiply in float32. Products of <see cref="GemmRows"/> activation rows or more (prefill) dequantize tiles
/// of <see cref="GemmTile"/> weight rows to float32 and multiply them with the SGEMM instead; a plan's step
/// (<see cref="Prepare"/>) keeps a packed float32 copy for those products, made on the first one, so that prefill runs
/// at the packed SGEMM's speed while decode reads only the quantized blocks.
/// </remarks>
public static unsafe class QuantMatMulKernel
{
    private const int TileRows = 16;

    /// <summary>The number of activation rows from which a product goes through the float32 SGEMM.</summary>
    internal const int GemmRows = 32;

    /// <summary>Weight rows dequantized at a time on the SGEMM path.</summary>
    private const int GemmTile = 512;

    /// <summary>
    /// The kernel of one plan step: <see cref="Run"/>, except that products of <see cref="GemmRows"/> rows or more use a
    /// float32 packed copy of the weight made on the first such call and kept by the step (so a prefill plan runs at
    /// the packed SGEMM's speed; a decode plan, whose products have one row, never makes it).
    /// </summary>
    public static KernelFn Prepare(KernelPreparation preparation)
    {
        ArgumentNullException.ThrowIfNull(preparation);
        var c = preparation.ConstantArgs;
        if (c.Count != 7 || c[1] is not long wSlot || c[3] is not long type || c[5] is not long n || c[6] is not long k
            || preparation.WeightAddress(wSlot) is var w && w == 0 || n <= 0 || k <= 0 || n > int.MaxValue || k > int.MaxValue)
        {
            return Run;
        }

        var packed = new Lazy<PackedB>(() => PackDequantized((GgmlType)type, (byte*)w, (int)n, (int)k), LazyThreadSafetyMode.ExecutionAndPublication);
        return (slots, args, start, end) =>
        {
            if (start >= end) return;
            var p = QuantMatMulArgs.Read(args);
            if (p.Rows < GemmRows || p.Rows > int.MaxValue)
            {
                Run(slots, args, start, end);
                return;
            }

            Sgemm.Multiply((int)p.Rows, (float*)slots[p.X], (int)p.K, 1, packed.Value, (float*)slots[p.Y], (int)p.N, pool: KernelPool.Current);
        };
    }

    private static PackedB PackDequantized(GgmlType type, byte* w, int n, int k)
    {
        int rowBytes = (int)QuantMatMulArgs.WeightBytes((long)type, 1, k);
        var values = GC.AllocateUninitializedArray<float>(checked(n * k));
        fixed (float* v = values)
        {
            float* vp = v;
            KernelPool.Current.ParallelFor(n, (s, e) => QuantRowDequant.Rows(type, w + ((long)s * rowBytes), rowBytes, e - s, k, vp + ((long)s * k)));

            // B[p, j] = w[j, p].
            return Sgemm.PackB(v, k, n, 1, k);
        }
    }

    /// <summary>
    /// y[m, n] = Σ_k x[m, k]·w[n, k]; arguments: <see cref="QuantMatMulArgs{T}"/>. One work item: the kernel splits the
    /// weight rows over <see cref="KernelPool.Current"/> itself, after quantizing the activations once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint[] slots, long[] a, long start, long end)
    {
        if (start >= end) return;
        var p = QuantMatMulArgs.Read(a);
        var type = (GgmlType)p.Type;
        int rows = (int)p.Rows, n = (int)p.N, k = (int)p.K;
        if (rows == 0 || n == 0) return;
        float* x = (float*)slots[p.X];
        byte* w = (byte*)slots[p.W];
        float* y = (float*)slots[p.Y];
        int rowBytes = (int)QuantMatMulArgs.WeightBytes(p.Type, 1, k);
        var pool = KernelPool.Current;
        var format = QuantActivations.VecDotType(type);
        if (rows >= GemmRows)
        {
            DequantizedGemm(type, x, w, y, rows, n, k, rowBytes, pool);
            return;
        }

        if (format == GgmlType.F32 || !QuantRowDot.IsAccelerated)
        {
            pool.ParallelFor(n, (s, e) => Dequantized(type, x, w, y, rows, n, k, rowBytes, s, e));
            return;
        }

        int xRowBytes = QuantActivations.RowBytes(format, k);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(checked(rows * xRowBytes));
        try
        {
            for (int m = 0; m < rows; m++)
            {
                var src = new ReadOnlySpan<float>(x + ((long)m * k), k);
                var dst = buffer.AsSpan(m * xRowBytes, xRowBytes);
                if (format == GgmlType.Q8_0) QuantActivations.QuantizeQ8_0(src, dst);
                else QuantActivations.QuantizeQ8_K(src, dst);
            }

            int nb = k / GgmlTypeTraits.BlockSize(type);
            fixed (byte* xq = buffer)
            {
                byte* xqp = xq;
                pool.ParallelFor(n, (s, e) => Dots(type, xqp, xRowBytes, w, rowBytes, y, rows, n, nb, s, e));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dots(GgmlType type, byte* xq, int xRowBytes, byte* w, int rowBytes, float* y, int rows, int n, int nb, int start, int end)
    {
        for (int n0 = start; n0 < end; n0 += TileRows)
        {
            int n1 = Math.Min(end, n0 + TileRows);
            for (int m = 0; m < rows; m++)
            {
                byte* xm = xq + ((long)m * xRowBytes);
                float* ym = y + ((long)m * n);
                for (int j = n0; j < n1; j++)
                {
                    ym[j] = QuantRowDot.Dot(type, w + ((long)j * rowBytes), xm, nb);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DequantizedGemm(GgmlType type, float* x, byte* w, float* y, int rows, int n, int k, int rowBytes, Threading.WorkerPool pool)
    {
        float[] tile = ArrayPool<float>.Shared.Rent(GemmTile * k);
        try
        {
            fixed (float* t = tile)
            {
                float* tp = t;
                for (int n0 = 0; n0 < n; n0 += GemmTile)
                {
                    int nt = Math.Min(GemmTile, n - n0);
                    int c0 = n0;

                    // The tile as B [k, nt] row-major (weight row j is column j − n0), in groups of 8 rows per worker.
                    pool.ParallelFor((nt + 7) / 8, (s, e) =>
                    {
                        float[] scratch = ArrayPool<float>.Shared.Rent(8 * k);
                        try
                        {
                            fixed (float* sp = scratch)
                            {
                                QuantRowDequant.Columns(type, w, rowBytes, c0 + (8 * s), Math.Min(c0 + nt, c0 + (8 * e)), k, tp, nt, c0, sp);
                            }
                        }
                        finally
                        {
                            ArrayPool<float>.Shared.Return(scratch);
                        }
                    });
                    Sgemm.Multiply(rows, nt, k, x, k, 1, t, nt, 1, y + n0, n, pool: pool);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(tile);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dequantized(GgmlType type, float* x, byte* w, float* y, int rows, int n, int k, int rowBytes, int start, int end)
    {
        float[] row = ArrayPool<float>.Shared.Rent(k);
        try
        {
            var r = row.AsSpan(0, k);
            for (int j = start; j < end; j++)
            {
                GgmlTypeTraits.Dequantize(type, new ReadOnlySpan<byte>(w + ((long)j * rowBytes), rowBytes), r);
                for (int m = 0; m < rows; m++)
                {
                    y[((long)m * n) + j] = DotF32(r, x + ((long)m * k), k);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(row);
        }
    }

    private static float DotF32(Span<float> r, float* x, int k)
    {
        fixed (float* rp = r)
        {
            var acc = Vector256<float>.Zero;
            int i = 0;
            for (; i + 8 <= k; i += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(rp + i), Vector256.Load(x + i), acc);
            float sum = Vector256.Sum(acc);
            for (; i < k; i++) sum += rp[i] * x[i];
            return sum;
        }
    }

    /// <summary>y[j, :] = row index[j] of w, dequantized; arguments: <see cref="QuantEmbeddingArgs{T}"/>. Work items are positions.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Embedding(nint[] slots, long[] a, long start, long end)
    {
        var p = QuantEmbeddingArgs.Read(a);
        var type = (GgmlType)p.Type;
        byte* w = (byte*)slots[p.W];
        nint idx = slots[p.Index];
        var idt = (DType)p.IndexDType;
        float* y = (float*)slots[p.Y];
        int cols = (int)p.Cols;
        int rowBytes = (int)QuantMatMulArgs.WeightBytes(p.Type, 1, cols);
        for (long j = start; j < end; j++)
        {
            long v = ElementIO.ReadInt(idx, idt, j);
            if (v < 0 || v >= p.Rows)
            {
                throw new IndexOutOfRangeException($"quantized embedding: index {v} (at position {j}) is out of range for {p.Rows} rows");
            }

            GgmlTypeTraits.Dequantize(type, new ReadOnlySpan<byte>(w + (v * rowBytes), rowBytes), new Span<float>(y + (j * cols), cols));
        }
    }
}
