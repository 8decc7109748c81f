using Candle.Runtime.Threading;

namespace Candle.Runtime.Kernels.Gemm;

/// <summary>
/// The blocked SGEMM driver (GotoBLAS/BLIS loop nest): for each NC block of columns and KC block of depth,
/// B is packed once into NR-wide panels shared by all threads; C is cut into work units (a block of at most
/// MC rows by a group of column panels) that threads claim dynamically; each unit packs its rows of A into
/// MR-high panels and sweeps the microkernel over its tiles.
/// </summary>
internal static unsafe class SgemmPacked
{
    public static void Run<TKernel, TEpilogue>(ref GemmProblem problem, ref TEpilogue epilogue, WorkerPool pool, int threads)
        where TKernel : struct, IMicroKernel
        where TEpilogue : struct, IGemmEpilogue
    {
        int mr = TKernel.MR;
        int nr = TKernel.NR;
        int m = problem.M;
        int n = problem.N;
        int k = problem.K;

        // Balanced k blocks: K = 300 with KC = 256 becomes two blocks of 150.
        int kBlocks = (k + TKernel.KC - 1) / TKernel.KC;
        int kcMax = (k + kBlocks - 1) / kBlocks;
        int nBlocks = (n + TKernel.NC - 1) / TKernel.NC;
        int ncMax = RoundUp((n + nBlocks - 1) / nBlocks, nr);

        float* bBuffer = problem.PackedB == null ? GemmBuffers.B((long)kcMax * ncMax) : null;

        // Balanced row blocks of at most MC rows, each a multiple of MR.
        int rowBlocks = (m + TKernel.MC - 1) / TKernel.MC;
        int rowBlock = RoundUp((m + rowBlocks - 1) / rowBlocks, mr);
        rowBlocks = (m + rowBlock - 1) / rowBlock;

        var body = new TileBody<TKernel, TEpilogue>
        {
            Problem = problem,
            Epilogue = epilogue,
        };

        for (int jc = 0; jc < n; jc += ncMax)
        {
            int nc = Math.Min(ncMax, n - jc);
            int colPanels = (nc + nr - 1) / nr;
            int colGroups = ColumnGroups(threads, rowBlocks, colPanels);
            body.Jc = jc;
            body.Nc = nc;
            body.RowBlock = rowBlock;
            body.ColGroups = colGroups;
            int units = rowBlocks * colGroups;
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int kc = Math.Min(kcMax, k - pc);
                if (problem.PackedB != null)
                {
                    body.BBase = problem.PackedB + ((long)(jc / nr) * k * nr) + ((long)pc * nr);
                    body.BPanelStride = (long)k * nr;
                }
                else
                {
                    var pack = new PackBBody
                    {
                        Dst = bBuffer,
                        PanelStride = (long)kc * nr,
                        B = problem.B + (pc * problem.BRowStride) + (jc * problem.BColStride),
                        RowStride = problem.BRowStride,
                        ColStride = problem.BColStride,
                        Kc = kc,
                        N = nc,
                        Nr = nr,
                    };
                    if (threads > 1 && (long)kc * nc >= 16384)
                    {
                        pool.ParallelFor(colPanels, ref pack);
                    }
                    else
                    {
                        pack.Invoke(0, colPanels);
                    }

                    body.BBase = bBuffer;
                    body.BPanelStride = (long)kc * nr;
                }

                body.Pc = pc;
                body.Kc = kc;
                body.Mode = pc == 0 ? problem.FirstMode : GemmStoreMode.Accumulate;
                body.Last = pc + kc >= k;
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
    }

    private static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    // Column groups per row block: enough units (about four per thread) for dynamic load balancing,
    // each group at least four panels wide so the repeated packing of A stays negligible.
    private static int ColumnGroups(int threads, int rowBlocks, int colPanels)
    {
        if (threads <= 1)
        {
            return 1;
        }

        int wanted = ((4 * threads) + rowBlocks - 1) / rowBlocks;
        return Math.Clamp(wanted, 1, Math.Max(1, colPanels / 4));
    }

    private struct PackBBody : IParallelBody
    {
        public float* Dst;
        public long PanelStride;
        public float* B;
        public long RowStride;
        public long ColStride;
        public int Kc;
        public int N;
        public int Nr;

        public readonly void Invoke(int start, int end) =>
            GemmPacking.PackB(Dst, PanelStride, B, RowStride, ColStride, Kc, N, Nr, start, end);
    }

    private struct TileBody<TKernel, TEpilogue> : IParallelBody
        where TKernel : struct, IMicroKernel
        where TEpilogue : struct, IGemmEpilogue
    {
        public GemmProblem Problem;
        public TEpilogue Epilogue;
        public float* BBase;
        public long BPanelStride;
        public int Jc;
        public int Nc;
        public int Pc;
        public int Kc;
        public int RowBlock;
        public int ColGroups;
        public GemmStoreMode Mode;
        public bool Last;

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
            int m = Problem.M;
            int colPanels = (Nc + nr - 1) / nr;
            int rowStart = unit / ColGroups * RowBlock;
            int rowEnd = Math.Min(m, rowStart + RowBlock);
            int group = unit % ColGroups;
            int panelStart = (int)((long)colPanels * group / ColGroups);
            int panelEnd = (int)((long)colPanels * (group + 1) / ColGroups);
            if (rowStart >= rowEnd || panelStart >= panelEnd)
            {
                return;
            }

            int kc = Kc;
            int mcMax = TKernel.MC;
            float* aPacked = GemmBuffers.A((long)mcMax * kc);
            float* tile = stackalloc float[mr * nr];
            long ldc = Problem.Ldc;
            bool epilogue = Last && typeof(TEpilogue) != typeof(NoEpilogue);

            for (int ic = rowStart; ic < rowEnd; ic += mcMax)
            {
                int mc = Math.Min(mcMax, rowEnd - ic);
                GemmPacking.PackA(
                    aPacked,
                    Problem.A + (ic * Problem.ARowStride) + (Pc * Problem.AColStride),
                    Problem.ARowStride,
                    Problem.AColStride,
                    mc,
                    kc,
                    mr,
                    Problem.Alpha);

                for (int jp = panelStart; jp < panelEnd; jp++)
                {
                    float* bp = BBase + (jp * BPanelStride);
                    int col = Jc + (jp * nr);
                    int cols = Math.Min(nr, Problem.N - col);
                    for (int ir = 0; ir < mc; ir += mr)
                    {
                        int row = ic + ir;
                        int rows = Math.Min(mr, mc - ir);
                        float* ap = aPacked + ((long)ir * kc);
                        float* cp = Problem.C + (row * ldc) + col;
                        if (rows == mr && cols == nr)
                        {
                            TKernel.Run(kc, ap, bp, cp, (nint)ldc, Mode, Problem.Beta);
                        }
                        else
                        {
                            TKernel.Run(kc, ap, bp, tile, nr, GemmStoreMode.Overwrite, 0f);
                            StoreEdge(tile, nr, cp, ldc, rows, cols, Mode, Problem.Beta);
                        }

                        if (epilogue)
                        {
                            Epilogue.Apply(cp, (int)ldc, Problem.RowOffset + row, col, rows, cols);
                        }
                    }
                }
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
