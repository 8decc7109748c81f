using System.Runtime.Intrinsics.X86;
using Candle.Runtime.Threading;

namespace Candle.Runtime.Kernels.Gemm;

/// <summary>
/// The blocked SGEMM driver (GotoBLAS/BLIS loop nest). For each block of at most NC columns, B is packed
/// once into NR-wide panels spanning all of K (the layout of <see cref="PackedB"/>), shared by all threads.
/// C is then cut into work units, a block of at most MC rows by a group of column panels, that threads claim
/// dynamically; a unit walks K in KC steps, packing its rows of A into MR-high panels and sweeping the
/// microkernel over its tiles, and applies the epilogue to each tile after the last step (or, for an epilogue that asks
/// for it, <see cref="IGemmEpilogue.PerBlock"/>, to the unit's whole block once). While a unit sweeps one panel block
/// it fetches the next one into L2, a share of its lines before each tile: a pre-packed weight that comes from memory
/// once per run would otherwise stall the first tile of every panel (panels the caller has just written,
/// <see cref="GemmProblem.BPanelsCached"/>, are not fetched ahead).
/// Each column block costs two synchronizations (one with pre-packed B).
/// </summary>
internal static unsafe class SgemmPacked
{
    // Upper bound on the packed B block (floats): the column block narrows for deep K to stay within it.
    private const long PackedBlockBudget = 2L << 20;

    public static void Run<TKernel, TEpilogue>(ref GemmProblem problem, ref TEpilogue epilogue, WorkerPool pool, int threads)
        where TKernel : struct, IMicroKernel
        where TEpilogue : struct, IGemmEpilogue
    {
        int nr = TKernel.NR;
        int k = problem.K;

        // Balanced k steps: K = 300 with KC = 256 becomes two steps of 150.
        int kSteps = (k + TKernel.KC - 1) / TKernel.KC;
        int kcMax = (k + kSteps - 1) / kSteps;
        bool prepacked = problem.PackedB != null || problem.PackedBBf16 != null;
        int nWanted = Math.Min(RoundUp(problem.N, nr), RoundUp(TKernel.NC, nr));
        if (!prepacked && (long)k * nWanted > PackedBlockBudget)
        {
            // Deep K (the LM head's input gradient multiplies over the vocabulary): B packed over all of K narrows the
            // column blocks, and all of A is packed again for each. Cut into K slices instead (each a whole number of k
            // steps, accumulating into C) when that costs less: the slices read and write C once more each, the
            // narrow blocks read A once more each. Every element of C sums the same k steps in the same order.
            int sliceSteps = (int)Math.Max(1, PackedBlockBudget / nWanted / kcMax);
            int slices = (kSteps + sliceSteps - 1) / sliceSteps;
            long narrow = Math.Clamp(PackedBlockBudget / k / nr * nr, nr, TKernel.NC);
            long extraBlocks = ((problem.N + narrow - 1) / narrow) - ((problem.N + nWanted - 1) / nWanted);
            if (slices > 1 && (long)problem.M * k * extraBlocks > 2L * problem.M * problem.N * (slices - 1))
            {
                RunInKSlices<TKernel, TEpilogue>(ref problem, ref epilogue, pool, threads, kcMax, sliceSteps * kcMax);
                return;
            }
        }

        RunBlocks<TKernel, TEpilogue>(ref problem, ref epilogue, pool, threads, kcMax);
    }

    private static void RunInKSlices<TKernel, TEpilogue>(
        ref GemmProblem problem, ref TEpilogue epilogue, WorkerPool pool, int threads, int kcMax, int slice)
        where TKernel : struct, IMicroKernel
        where TEpilogue : struct, IGemmEpilogue
    {
        int k = problem.K;
        var none = default(NoEpilogue);
        for (int pc = 0; pc < k; pc += slice)
        {
            var part = problem;
            part.K = Math.Min(slice, k - pc);
            part.A = problem.A + (pc * problem.AColStride);
            part.B = problem.B + (pc * problem.BRowStride);
            part.Beta = pc == 0 ? problem.Beta : 1f;
            if (pc + part.K >= k)
            {
                RunBlocks<TKernel, TEpilogue>(ref part, ref epilogue, pool, threads, kcMax);
            }
            else
            {
                RunBlocks<TKernel, NoEpilogue>(ref part, ref none, pool, threads, kcMax);
            }
        }
    }

    private static void RunBlocks<TKernel, TEpilogue>(ref GemmProblem problem, ref TEpilogue epilogue, WorkerPool pool, int threads, int kcMax)
        where TKernel : struct, IMicroKernel
        where TEpilogue : struct, IGemmEpilogue
    {
        int mr = TKernel.MR;
        int nr = TKernel.NR;
        int m = problem.M;
        int n = problem.N;
        int k = problem.K;

        // Balanced column blocks of at most NC columns (fewer for deep K when B is packed here).
        int ncLimit = TKernel.NC;
        bool prepacked = problem.PackedB != null || problem.PackedBBf16 != null;
        if (!prepacked)
        {
            ncLimit = (int)Math.Clamp(PackedBlockBudget / k / nr * nr, nr, ncLimit);
        }

        int nBlocks = (n + ncLimit - 1) / ncLimit;
        int ncMax = RoundUp((n + nBlocks - 1) / nBlocks, nr);

        float* bBuffer = prepacked ? null : GemmBuffers.B((long)k * ncMax);
        var body = new TileBody<TKernel, TEpilogue>
        {
            Problem = problem,
            Epilogue = epilogue,
            KcMax = kcMax,
        };

        for (int jc = 0; jc < n; jc += ncMax)
        {
            int nc = Math.Min(ncMax, n - jc);
            int colPanels = (nc + nr - 1) / nr;
            if (problem.PackedBBf16 != null)
            {
                body.BBaseBf16 = problem.PackedBBf16 + ((long)(jc / nr) * k * nr);
            }
            else if (problem.PackedB != null)
            {
                body.BBase = problem.PackedB + ((long)(jc / nr) * k * nr);
            }
            else
            {
                var pack = new PackBBody
                {
                    Dst = bBuffer,
                    PanelStride = (long)k * nr,
                    B = problem.B + (jc * problem.BColStride),
                    RowStride = problem.BRowStride,
                    ColStride = problem.BColStride,
                    K = k,
                    N = nc,
                    Nr = nr,
                    Panels = colPanels,
                };
                int packUnits = (k + PackBBody.RowsPerUnit - 1) / PackBBody.RowsPerUnit;
                if (threads > 1 && packUnits > 1 && (long)k * nc >= 16384)
                {
                    pool.ParallelForDynamic(packUnits, ref pack);
                }
                else
                {
                    pack.Invoke(0, packUnits);
                }

                body.BBase = bBuffer;
            }

            var split = GemmSplit.Choose(m, colPanels, mr, TKernel.MC, threads);
            int units = split.Units;
            body.Jc = jc;
            body.Nc = nc;
            body.Split = split;
            if (threads > 1 && units > 1)
            {
                pool.ParallelForDynamic(units, ref body);
            }
            else
            {
                body.Invoke(0, units);
            }
        }
    }

    private static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    private struct PackBBody : IParallelBody
    {
        public const int RowsPerUnit = 64;

        public float* Dst;
        public long PanelStride;
        public float* B;
        public long RowStride;
        public long ColStride;
        public int K;
        public int N;
        public int Nr;
        public int Panels;

        public readonly void Invoke(int start, int end) =>
            GemmPacking.PackB(
                Dst, PanelStride, B, RowStride, ColStride,
                start * RowsPerUnit, Math.Min(K, end * RowsPerUnit), N, Nr, 0, Panels);
    }

    private struct TileBody<TKernel, TEpilogue> : IParallelBody
        where TKernel : struct, IMicroKernel
        where TEpilogue : struct, IGemmEpilogue
    {
        public GemmProblem Problem;
        public TEpilogue Epilogue;
        public float* BBase;
        public ushort* BBaseBf16;
        public int Jc;
        public int Nc;
        public int KcMax;
        public GemmSplit Split;

        public void Invoke(int start, int end)
        {
            for (int unit = start; unit < end; unit++)
            {
                RunUnit(unit);
            }
        }

        private void RunUnit(int unit)
        {
            int mr = TKernel.MR;
            int nr = TKernel.NR;
            int k = Problem.K;
            var (rowStart, rowEnd) = Split.RowRange(unit);
            var (panelStart, panelEnd) = Split.PanelRange(unit);
            if (rowStart >= rowEnd || panelStart >= panelEnd)
            {
                return;
            }

            int mc = rowEnd - rowStart;
            bool prepackedA = Problem.PackedA != null;
            float* aPacked = prepackedA ? null : GemmBuffers.A((long)RoundUp(mc, mr) * KcMax);
            float* tile = stackalloc float[mr * nr];
            long ldc = Problem.Ldc;
            long panelStride = (long)k * nr;

            for (int pc = 0; pc < k; pc += KcMax)
            {
                int kc = Math.Min(KcMax, k - pc);
                var mode = pc == 0 ? Problem.FirstMode : GemmStoreMode.Accumulate;
                bool epilogue = pc + kc >= k && typeof(TEpilogue) != typeof(NoEpilogue) && !TEpilogue.PerBlock;
                if (!prepackedA)
                {
                    GemmPacking.PackA(
                        aPacked,
                        Problem.A + (rowStart * Problem.ARowStride) + (pc * Problem.AColStride),
                        Problem.ARowStride,
                        Problem.AColStride,
                        mc,
                        kc,
                        mr,
                        Problem.Alpha);
                }

                float* widened = BBaseBf16 != null ? GemmBuffers.W((long)KcMax * nr) : null;
                int tiles = (mc + mr - 1) / mr;
                for (int jp = panelStart; jp < panelEnd; jp++)
                {
                    float* bp;
                    if (widened != null)
                    {
                        // A bfloat16 panel block is widened once here and multiplied by every row block of the unit.
                        Bf16Packing.Widen(BBaseBf16 + (jp * panelStride) + ((long)pc * nr), widened, (long)kc * nr);
                        bp = widened;
                    }
                    else
                    {
                        bp = BBase + (jp * panelStride) + ((long)pc * nr);
                    }

                    int col = Jc + (jp * nr);
                    int cols = Math.Min(nr, Problem.N - col);

                    // The next panel block this unit multiplies (the next panel, or the first of the next k step): its
                    // lines are fetched into L2 a share per tile while this one is swept, so that a weight read from
                    // memory once per run does not stall the first tile of each panel.
                    byte* next = null;
                    long nextLines = 0, linesPerTile = 0;
                    if (widened == null && !Problem.BPanelsCached && Sse.IsSupported)
                    {
                        int nextKc = jp + 1 < panelEnd ? kc : Math.Min(KcMax, k - pc - kc);
                        if (nextKc > 0)
                        {
                            next = (byte*)(jp + 1 < panelEnd
                                ? BBase + ((jp + 1) * panelStride) + ((long)pc * nr)
                                : BBase + (panelStart * panelStride) + ((long)(pc + kc) * nr));
                            nextLines = ((long)nextKc * nr * sizeof(float)) / 64;
                            linesPerTile = (nextLines + tiles - 1) / tiles;
                        }
                    }

                    for (int ir = 0; ir < mc; ir += mr)
                    {
                        int row = rowStart + ir;
                        int rows = Math.Min(mr, mc - ir);
                        if (next != null)
                        {
                            long first = ir / mr * linesPerTile;
                            long last = Math.Min(nextLines, first + linesPerTile);
                            for (long line = first; line < last; line++)
                            {
                                Sse.Prefetch1(next + (line * 64));
                            }
                        }

                        // Prepacked A: the tile's panel spans all of K (row is a multiple of MR).
                        float* ap = prepackedA ? Problem.PackedA + ((long)row * k) + ((long)pc * mr) : aPacked + ((long)ir * kc);
                        float* cp = Problem.C + (row * ldc) + col;
                        if (rows == mr && cols == nr)
                        {
                            TKernel.Run(kc, ap, bp, cp, (nint)ldc, mode, Problem.Beta);
                        }
                        else if (typeof(TKernel) == typeof(MicroKernel512) && Avx512F.IsSupported)
                        {
                            MicroKernel512Edge.Run(kc, ap, bp, cp, (nint)ldc, mode, Problem.Beta, rows, cols);
                        }
                        else if (typeof(TKernel) == typeof(MicroKernel256) && Avx2.IsSupported && Fma.IsSupported)
                        {
                            MicroKernel256Edge.Run(kc, ap, bp, cp, (nint)ldc, mode, Problem.Beta, rows, cols);
                        }
                        else
                        {
                            TKernel.Run(kc, ap, bp, tile, nr, GemmStoreMode.Overwrite, 0f);
                            StoreEdge(tile, nr, cp, ldc, rows, cols, mode, Problem.Beta);
                        }

                        if (epilogue)
                        {
                            Epilogue.Apply(cp, (int)ldc, Problem.RowOffset + row, col, rows, cols);
                        }
                    }
                }
            }

            if (TEpilogue.PerBlock)
            {
                // The unit's whole block at once: its rows by its panels' columns, every K step accumulated.
                int col0 = Jc + (panelStart * nr);
                int cols = Math.Min(Problem.N, Jc + (panelEnd * nr)) - col0;
                Epilogue.Apply(Problem.C + (rowStart * ldc) + col0, (int)ldc, Problem.RowOffset + rowStart, col0, mc, cols);
            }
        }

        private static void StoreEdge(float* tile, int nr, float* c, long ldc, int rows, int cols, GemmStoreMode mode, float beta)
        {
            for (int i = 0; i < rows; i++)
            {
                float* t = tile + (i * nr);
                float* cr = c + (i * ldc);
                for (int j = 0; j < cols; j++)
                {
                    cr[j] = mode switch
                    {
                        GemmStoreMode.Overwrite => t[j],
                        GemmStoreMode.Accumulate => t[j] + cr[j],
                        _ => t[j] + (beta * cr[j]),
                    };
                }
            }
        }
    }
}
