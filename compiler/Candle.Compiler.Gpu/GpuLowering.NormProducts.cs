using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using ILGPU;
using ILGPU.Runtime;
using Frame = Candle.Compiler.Gpu.GpuExecutable.Frame;
using Mem = Candle.Compiler.Gpu.GpuExecutable.Mem;

namespace Candle.Compiler.Gpu;

/// <summary>
/// rms_norms folded into the few-row products that read them (<see cref="FusedGemvKernels.NormGemv{TS, TR, TC, TCS}"/>):
/// an rms_norm whose output is read only by the products right after it, as their dense activation rows, and is no graph
/// output, is not launched where the fold applies; each product computes the normalized rows on the fly, and the first
/// also writes the residual sum.
/// </summary>
internal sealed partial class GpuLowering
{
    /// <summary>
    /// Set to 0, rms_norms are launched as their own calls even where the few-row kernels could fold them into the
    /// products that read them (A/B runs).
    /// </summary>
    internal const string FoldVariable = "CANDLE_GPU_FOLD";

    /// <summary>
    /// Whether norms are folded into few-row products: where the few-row kernels come before any library
    /// (<see cref="GemvFirst"/>), they read 16 bytes a load (not OpenCL, <see cref="GpuDevice.UseGemvWarps"/>), and
    /// <see cref="FoldVariable"/> is not 0.
    /// </summary>
    private bool Folds => Environment.GetEnvironmentVariable(FoldVariable) != "0" && GemvFirst && device.Kind != GpuKind.OpenCL
        && device.UseGemv && device.UseGemvWarps;

    /// <summary>The folds by the calls they change: the norm and each of its products.</summary>
    private readonly Dictionary<KernelCall, NormFold> _normFolds = new(ReferenceEqualityComparer.Instance);

    /// <summary>Arena slots a fold reads or writes after their last use in the kernel graph, with the last call that uses them.</summary>
    private readonly Dictionary<int, int> _heldUntil = [];

    /// <summary>
    /// The last call that uses arena slot <paramref name="slot"/>, the kernel graph's <paramref name="last"/> or later
    /// where a folded product reads the norm's inputs or writes its sum after the norm's place (their memory must not be
    /// reused before).
    /// </summary>
    internal int LastUse(int slot, int last) => _heldUntil.TryGetValue(slot, out int until) ? Math.Max(until, last) : last;

    /// <summary>
    /// Pairs each rms_norm of a float dtype with the products right after it that read its output as their
    /// left operand, where nothing else reads that output and it is no graph output; the run decides per binding
    /// (<see cref="FoldApplies"/>).
    /// </summary>
    private void PrepareNormFolds(KernelGraph graph)
    {
        if (!Folds) return;
        var outputs = graph.Outputs.Select(o => o.Buffer).ToHashSet();
        var calls = graph.Calls;
        for (int i = 0; i < calls.Count; i++)
        {
            if (calls[i] is not NormCall { Op: Op.RmsNorm, Bias: < 0, DType: DType.F32 or DType.F16 or DType.BF16 } norm) continue;
            if (outputs.Contains(norm.Y) || OctetStorage(norm.DType) is null) continue;
            if (norm.Residual >= 0 && (norm.Sum < 0 || norm.Sum == norm.X || norm.Sum == norm.Residual || norm.Sum == norm.Y)) continue;
            var products = new List<FoldProduct>();
            int j = i + 1;
            while (j < calls.Count && FoldProduct.Of(calls[j], norm) is { } p)
            {
                products.Add(p);
                j++;
            }

            if (products.Count == 0) continue;
            bool elsewhere = false;
            for (int c = 0; c < calls.Count && !elsewhere; c++)
            {
                if (c != i && (c < i + 1 || c >= j) && calls[c].Slots.Contains(norm.Y)) elsewhere = true;
            }

            if (elsewhere) continue;
            var fold = new NormFold(norm, [.. products]);
            _normFolds[norm] = fold;
            foreach (var p in products) _normFolds[p.Call] = fold;
            Hold(norm.X, j - 1);
            if (norm.Residual >= 0)
            {
                // The first product writes the sum, so its memory too must outlive the products even where nothing reads it after.
                Hold(norm.Residual, j - 1);
                Hold(norm.Sum, j - 1);
            }
        }
    }

    private void Hold(int slot, int until) => _heldUntil[slot] = Math.Max(until, _heldUntil.GetValueOrDefault(slot));

    /// <summary>The step of <paramref name="call"/>: <paramref name="step"/> itself, or its folded form where a fold changes the call.</summary>
    private Action<Frame> Folded(KernelCall call, Action<Frame> step) => !_normFolds.TryGetValue(call, out var fold) ? step
        : call is NormCall ? FoldedNorm(fold, step)
        : FoldedProduct(fold, call, step);

    /// <summary>The norm's step where it is folded: nothing where the fold applies to this run, else the norm.</summary>
    private Action<Frame> FoldedNorm(NormFold fold, Action<Frame> norm) => f =>
    {
        if (FoldApplies(f, fold)) FoldedSteps++;
        else norm(f);
    };

    /// <summary>How many steps the runs so far left out because a product computed them (a folded norm).</summary>
    internal long FoldedSteps { get; private set; }

    /// <summary>A folded product's step: the fused kernel where the fold applies to this run, else the product.</summary>
    private Action<Frame> FoldedProduct(NormFold fold, KernelCall call, Action<Frame> product)
    {
        int index = Array.FindIndex(fold.Products, p => ReferenceEquals(p.Call, call));
        var folded = fold.Products[index];
        var epilogue = folded.Epilogue is { } e ? Elementwise(e) : null;
        var dt = fold.Norm.DType;
        var (cElem, cStorage) = Storage(dt, call.Label);
        var launcher = GroupLauncher(Generic(typeof(FusedGemvKernels), nameof(FusedGemvKernels.NormGemv), OctetStorage(dt)!, OctetRounding(dt), cElem, cStorage));
        var norm = fold.Norm;
        int flags = (norm.Weight >= 0 ? FusedGemvKernels.HasWeight : 0)
            | (norm.Residual >= 0 ? FusedGemvKernels.HasResidual | (index == 0 ? FusedGemvKernels.WritesSum : 0) : 0);
        return f =>
        {
            if (!FoldApplies(f, fold))
            {
                product(f);
                return;
            }

            var x = f.Slots[norm.X];
            var (n, bOff, bN) = (fold.N[index], fold.BOff[index], fold.BN[index]);
            var warp = device.Accelerator.WarpSize;
            int perGroup = FoldWarpGroup / warp;
            long warps = (n + FusedGemvKernels.RowsPerWarp - 1) / FusedGemvKernels.RowsPerWarp;
            var config = new KernelConfig(new Index1D((int)((warps + perGroup - 1) / perGroup)), new Index1D(FoldWarpGroup));
            launcher.Begin().BytesView(x, 0)
                .BytesView(norm.Residual >= 0 ? f.Slots[norm.Residual] : x, 0)
                .BytesView(norm.Residual >= 0 ? f.Slots[norm.Sum] : x, 0)
                .BytesView(norm.Weight >= 0 ? f.Slots[norm.Weight] : x, 0)
                .BytesView(f.Slots[folded.B.Slot], 0)
                .View(f.Slots[folded.C])
                .Arg((int)fold.Rows).Arg((int)n).Arg((int)(fold.Length / 8)).Arg(flags).Arg((float)norm.Eps).Arg(bOff / 8).Arg(bN / 8)
                .Launch(config);
            epilogue?.Invoke(f);
        };
    }

    /// <summary>Threads of a fused launch's group: whole warps, at most <see cref="GemvKernels.WarpRowsGroupSize"/>.</summary>
    private int FoldWarpGroup
    {
        get
        {
            int warp = device.Accelerator.WarpSize;
            return Math.Min(GemvKernels.WarpRowsGroupSize, device.Accelerator.MaxNumThreadsPerGroup) / warp * warp;
        }
    }

    /// <summary>The <see cref="IOctetRounding"/> matching <see cref="OctetStorage"/> for a float dtype.</summary>
    private Type OctetRounding(DType dt) => dt switch
    {
        DType.F32 => typeof(F32Rounding),
        DType.F16 => HardwareHalf ? typeof(HalfRounding) : typeof(F16Rounding),
        DType.BF16 => typeof(BF16Rounding),
        _ => throw new NotSupportedException($"no octet rounding for {dt}"),
    };

    /// <summary>
    /// Whether this run folds the norm into its products: the same predicate over the evaluated sizes, strides,
    /// alignment and addresses for the norm's step and each product's, so they all decide alike. It needs 1 to
    /// <see cref="GemvKernels.MaxRows"/> rows whose length is a multiple of 8, the norm's operands 16-byte aligned,
    /// each product reading exactly the norm's rows (offset 0, row stride the length) against a weight in nn.Linear's
    /// layout whose offset and row stride are multiples of 8 in 16-byte aligned memory, and no overlap between the
    /// memory written (the sum, each product's output) and the memory the products read (x and the residual).
    /// Records each product's evaluated width, weight offset and row stride in <paramref name="fold"/>.
    /// </summary>
    private bool FoldApplies(Frame f, NormFold fold)
    {
        var norm = fold.Norm;
        long rows = f.Eval(norm.Rows), len = f.Eval(norm.RowLength);
        (fold.Rows, fold.Length) = (rows, len);
        if (rows < 1 || rows > GemvKernels.MaxRows || len < 8 || len % 8 != 0 || len / 8 > int.MaxValue || FoldWarpGroup <= 0) return false;
        long size = norm.DType.SizeInBytes(), bytes = rows * len * size;
        var x = f.Slots[norm.X];
        if (!Aligned(x) || (norm.Weight >= 0 && !Aligned(f.Slots[norm.Weight]))) return false;
        Mem? residual = norm.Residual >= 0 ? f.Slots[norm.Residual] : null, sum = norm.Residual >= 0 ? f.Slots[norm.Sum] : null;
        if (residual is { } r && (!Aligned(r) || !Aligned(sum!.Value) || Overlap(sum.Value, bytes, x, bytes) || Overlap(sum.Value, bytes, r, bytes))) return false;
        for (int i = 0; i < fold.Products.Length; i++)
        {
            var p = fold.Products[i];
            var (a, b) = (p.A, p.B);
            int br = p.Batch.Length;
            long m = f.Eval(p.M), n = f.Eval(p.N), k = f.Eval(p.K);
            var (sizes, sa, sb) = (p.Sizes, p.ABatch, p.BBatch);
            EvalInto(f, p.Batch, sizes, 0);
            EvalInto(f, a.Strides[..br], sa, 0);
            EvalInto(f, b.Strides[..br], sb, 0);
            if (k != len || n < 1 || n > int.MaxValue || f.Eval(a.Offset) != 0 || f.Eval(a.Strides[^1]) != 1) return false;
            if (GemvRows(m, f.Eval(p.RowStride), Product(sizes), sizes, sa, sb) is not (long pr, long stride) || pr != rows || (rows > 1 && stride != len)) return false;
            long bOff = f.Eval(b.Offset), bK = f.Eval(b.Strides[^2]), bN = f.Eval(b.Strides[^1]);
            if (bK != 1 || bOff % 8 != 0 || bN % 8 != 0 || bN < k || !Aligned(f.Slots[b.Slot])) return false;
            var c = f.Slots[p.C];
            long cBytes = rows * n * size;
            if (Overlap(c, cBytes, x, bytes) || (residual is { } rr && (Overlap(c, cBytes, rr, bytes) || Overlap(c, cBytes, sum!.Value, bytes)))) return false;
            (fold.N[i], fold.BOff[i], fold.BN[i]) = (n, bOff, bN);
        }

        return true;
    }

    /// <summary>Whether the first <paramref name="aBytes"/> of <paramref name="a"/> and the first <paramref name="bBytes"/> of <paramref name="b"/> share device memory.</summary>
    private static bool Overlap(Mem a, long aBytes, Mem b, long bBytes)
    {
        long x = a.Buffer.Address(a.Offset), y = b.Buffer.Address(b.Offset);
        return x < y + bBytes && y < x + aBytes;
    }

    /// <summary>An rms_norm and the products it is folded into, with what the last <see cref="FoldApplies"/> evaluated.</summary>
    private sealed class NormFold(NormCall norm, FoldProduct[] products)
    {
        public NormCall Norm { get; } = norm;

        public FoldProduct[] Products { get; } = products;

        public long Rows { get; set; }

        public long Length { get; set; }

        public long[] N { get; } = new long[products.Length];

        public long[] BOff { get; } = new long[products.Length];

        public long[] BN { get; } = new long[products.Length];
    }

    /// <summary>
    /// A product a norm can be folded into, as the fused kernel sees it: a batched product, or a float32 2-d product (a
    /// weight read as stored, with its epilogue run after), whose left operand is the norm's output.
    /// </summary>
    private sealed class FoldProduct(KernelCall call, TensorView a, TensorView b, int c, Dim m, Dim n, Dim k, Dim rowStride, Dim[] batch, ElementwiseCall? epilogue)
    {
        public KernelCall Call { get; } = call;

        public TensorView A { get; } = a;

        public TensorView B { get; } = b;

        public int C { get; } = c;

        public Dim M { get; } = m;

        public Dim N { get; } = n;

        public Dim K { get; } = k;

        public Dim RowStride { get; } = rowStride;

        public Dim[] Batch { get; } = batch;

        public ElementwiseCall? Epilogue { get; } = epilogue;

        /// <summary>The evaluated batch sizes and the operands' batch strides (kept, so a run allocates nothing).</summary>
        public long[] Sizes { get; } = new long[batch.Length];

        public long[] ABatch { get; } = new long[batch.Length];

        public long[] BBatch { get; } = new long[batch.Length];

        /// <summary>
        /// The product as a fold sees it where <paramref name="call"/> reads <paramref name="norm"/>'s output as its left
        /// operand (and nowhere else) in the norm's dtype and writes none of the norm's operands; null otherwise.
        /// </summary>
        public static FoldProduct? Of(KernelCall call, NormCall norm)
        {
            var p = call switch
            {
                BatchedMatMulCall bm when bm.DType == norm.DType => new FoldProduct(bm, bm.A, bm.B, bm.C, bm.M, bm.N, bm.K, bm.A.Strides[^2], bm.BatchShape, null),
                GemmCall { B.StoredDType: null } g when norm.DType == DType.F32 && g.A.DType == DType.F32 && g.B.DType == DType.F32
                    => new FoldProduct(g, g.A, g.B, g.C, g.Rows, g.N, g.K, g.ARowStride, [], g.Epilogue),
                _ => null,
            };
            if (p is null || p.A.Slot != norm.Y || p.B.Slot == norm.Y) return null;
            if (p.Epilogue is { } e && e.Inputs.Any(i => i.Slot == norm.Y)) return null;
            return p.C == norm.Y || p.C == norm.X || p.C == norm.Residual || p.C == norm.Sum ? null : p;
        }
    }
}
