using Candle.Runtime.Threading;

namespace Candle.Runtime.Kernels.Gemm;

/// <summary>
/// The blocked SGEMM driver (GotoBLAS/BLIS loop nest): for each NC block of columns and KC block of depth,
/// B is packed once into NR-wide panels shared by all threads; each thread packs MC-row blocks of A into
/// MR-high panels and sweeps the microkernel over the tiles of its part of C.
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
        int rowPanels = (m + mr - 1) / mr;

        var body = new TileBody<TKernel, TEpilogue>
        {
            Problem = problem,
            Epilogue = epilogue,
        };

        for (int jc = 0; jc < n; jc += ncMax)
        {
            int nc = Math.Min(ncMax, n - jc);
            int colPanels = (nc + nr - 1) / nr;
            ChooseGrid(threads, rowPanels, colPanels, out int tm, out int tn);
            body.Jc = jc;
            body.Nc = nc;
            body.Tm = tm;
            body.Tn = tn;
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
                if (tm * tn > 1)
                {
                    pool.ParallelFor(tm * tn, ref body);
                }
                else
                {
                    body.Invoke(0, 1);
                }
            }
        }
    }

    private static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    // Splits the threads into a tm x tn grid over row and column panels, minimizing the tiles of the busiest thread.
    private static void ChooseGrid(int threads, int rowPanels, int colPanels, out int tm, out int tn)
    {
        tm = 1;
        tn = 1;
        long best = long.MaxValue;
        for (int a = 1; a <= threads; a++)
        {
            if (threads % a != 0)
            {
                continue;
            }

            int b = threads / a;
            int ta = Math.Min(a, rowPanels);
            int tb = Math.Min(b, colPanels);

            // Splitting columns repeats the packing of A on each thread: a small penalty breaks ties toward rows.
            long cost = ((long)((rowPanels + ta - 1) / ta) * ((colPanels + tb - 1) / tb) * 16) + tb - 1;
            if (cost < best)
            {
                best = cost;
                tm = ta;
                tn = tb;
            }
        }
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
        public int Tm;
        public int Tn;
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
            int rowPanels = (m + mr - 1) / mr;
            int colPanels = (Nc + nr - 1) / nr;
            int um = unit / Tn;
            int un = unit % Tn;
            int rowStart = (int)((long)rowPanels * um / Tm) * mr;
            int rowEnd = Math.Min(m, (int)((long)rowPanels * (um + 1) / Tm) * mr);
            int panelStart = (int)((long)colPanels * un / Tn);
            int panelEnd = (int)((long)colPanels * (un + 1) / Tn);
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
