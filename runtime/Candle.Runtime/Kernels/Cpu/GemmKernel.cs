using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Args;
using Candle.Runtime.Kernels.Gemm;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// One float32 matrix product C[M, N] = A[M, K] · B[K, N] through <see cref="Sgemm"/> (batched operands flattened
/// into rows by the compiler), with an optional generated epilogue applied to each finished block of C and, for a
/// weight B, panels packed once per process (<see cref="PackedWeightCache"/>, shared by every plan over the weight)
/// the first time a product of more than one row runs; one-row products read the weight unpacked until then.
/// Arguments: <see cref="GemmArgs{T}"/> (offsets and strides in elements; C is dense; B is stored in float32, or is a
/// bfloat16 weight widened as it is read, which needs prepack for products of more than one row). The epilogue is a generated elementwise
/// kernel over C's M·N elements, in place, whose own arguments are the first E. One work item: Sgemm splits the
/// product over <see cref="KernelPool.Current"/>.
/// </summary>
public static unsafe class GemmKernel
{
    /// <summary>The kernel without per-plan state (no packed weight, no epilogue).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint[] slots, long[] args, long start, long end)
    {
        if (start < end) Execute(slots, args, null, null);
    }

    /// <summary>
    /// Prepares a step: arranges for a constant weight B to be packed when first needed (when the step asks for it
    /// and B's geometry is static) and binds the generated epilogue.
    /// </summary>
    /// <param name="preparation">The step's constant arguments, the weights and the epilogue.</param>
    /// <returns>The kernel to call for the step.</returns>
    public static KernelFn Prepare(KernelPreparation preparation)
    {
        ArgumentNullException.ThrowIfNull(preparation);
        var c = GemmArgs.Read(preparation.ConstantArgs);
        LazyPackedWeight? packed = null;
        if (c.Prepack == 1 && c.B is long bSlot && c.BOffset is long bOff && c.BRowStride is long brs
            && c.BColStride is long bcs && c.N is long n && c.K is long k
            && n > 0 && k > 0 && FitsInt(n, k, brs, bcs) && preparation.WeightAddress(bSlot) is var w && w != 0)
        {
            // Without an owner to tell weights apart, the copy stays the plan's own (made on first use all the same).
            object owner = preparation.WeightOwner(bSlot) ?? new object();
            bool bf16 = c.BType == (long)DType.BF16;
            packed = new LazyPackedWeight(owner, bf16 ? (ushort*)w + bOff : (float*)w + bOff, bf16, (int)k, (int)n, (int)brs, (int)bcs);
        }

        var epilogue = preparation.Epilogue;
        if (packed is null && epilogue is null) return Run;
        return (slots, args, start, end) =>
        {
            if (start < end) Execute(slots, args, packed, epilogue);
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Execute(nint[] slots, long[] args, LazyPackedWeight? lazy, KernelFn? epilogue)
    {
        var g = GemmArgs.Read(args);
        long m = g.M, n = g.N, k = g.K;
        if (m == 0 || n == 0) return;
        if (!FitsInt(m, n, k, g.ARowStride, g.AColStride, g.BRowStride, g.BColStride))
        {
            throw new NotSupportedException($"gemm: [{m}, {k}] x [{k}, {n}] with strides ({g.ARowStride}, {g.AColStride}) and ({g.BRowStride}, {g.BColStride}) exceeds 32-bit indexing");
        }

        float* a = (float*)slots[g.A] + g.AOffset;
        float* c = (float*)slots[g.C];
        int ars = (int)g.ARowStride, acs = (int)g.AColStride;
        var pool = KernelPool.Current;
        // One row streams B once either way: it reads the panels if a product of several rows packed them (the
        // original's pages are then given back), else the weight where it lies.
        if (lazy is not null && (m > 1 ? lazy.Value : lazy.Existing) is { } packed)
        {
            if (epilogue is null)
            {
                Sgemm.Multiply((int)m, a, ars, acs, packed, c, (int)n, pool: pool);
            }
            else
            {
                var epi = new KernelEpilogue(epilogue, slots, args, n);
                Sgemm.Multiply((int)m, a, ars, acs, packed, c, (int)n, in epi, pool: pool);
            }

            return;
        }

        int brs = (int)g.BRowStride, bcs = (int)g.BColStride;
        if (g.BType == (long)DType.BF16)
        {
            if (m != 1) throw new NotSupportedException($"gemm: a bfloat16 B multiplies {m} rows only when packed (the step must prepack a weight of static geometry)");
            MultiplyRowBf16(a, acs, (ushort*)slots[g.B] + g.BOffset, brs, bcs, c, (int)n, (int)k, pool);
            epilogue?.Invoke(slots, args, 0, n);
            return;
        }

        float* b = (float*)slots[g.B] + g.BOffset;
        if (epilogue is null)
        {
            Sgemm.Multiply((int)m, (int)n, (int)k, a, ars, acs, b, brs, bcs, c, (int)n, pool: pool);
        }
        else
        {
            var epi = new KernelEpilogue(epilogue, slots, args, n);
            Sgemm.Multiply((int)m, (int)n, (int)k, a, ars, acs, b, brs, bcs, c, (int)n, in epi, pool: pool);
        }
    }

    // One row times a bfloat16 weight; a strided row is gathered first (the GEMV reads it K times per column block).
    private static void MultiplyRowBf16(float* a, int acs, ushort* b, int brs, int bcs, float* c, int n, int k, Threading.WorkerPool pool)
    {
        if (acs == 1 || k <= 1)
        {
            Bf16Gemv.Multiply(a, b, brs, bcs, c, n, k, pool);
            return;
        }

        var row = GC.AllocateUninitializedArray<float>(k, pinned: true);
        for (int p = 0; p < k; p++) row[p] = a[(long)p * acs];
        fixed (float* r = row)
        {
            Bf16Gemv.Multiply(r, b, brs, bcs, c, n, k, pool);
        }
    }

    private static bool FitsInt(params ReadOnlySpan<long> values)
    {
        foreach (long v in values)
        {
            if (v > int.MaxValue || v < int.MinValue) return false;
        }

        return true;
    }

    /// <summary>
    /// Runs a generated elementwise kernel (in place over dense C) on each finished block of C: rows spanning all of C's
    /// columns in one call, others row by row. The blocked driver hands it each work unit's block at once
    /// (<see cref="IGemmEpilogue.PerBlock"/>), so the delegate is called once per unit or unit row instead of once per tile row.
    /// </summary>
    private readonly struct KernelEpilogue(KernelFn fn, nint[] slots, long[] args, long n) : IGemmEpilogue
    {
        static bool IGemmEpilogue.PerBlock => true;

        public void Apply(float* c, int ldc, int row0, int col0, int rows, int cols)
        {
            if (col0 == 0 && cols == n)
            {
                fn(slots, args, row0 * n, (row0 + rows) * n);
                return;
            }

            for (int r = 0; r < rows; r++)
            {
                long s = ((row0 + r) * n) + col0;
                fn(slots, args, s, s + cols);
            }
        }
    }
}
