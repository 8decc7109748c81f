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
/// rms_norms folded into the few-row products that read them (<see cref="FusedGemvKernels.NormGemv{TS, TR, TA, TC, TCS}"/>):
/// an rms_norm whose output is read only by the products right after it, as their dense activation rows, and is no graph
/// output, is not launched where the fold applies; each product computes the normalized rows on the fly, and the first
/// also writes the residual sum.
/// </summary>
internal sealed partial class GpuLowering
{
    /// <summary>
    /// Set to 0, rms_norms, gated units (SwiGLU) and a decode step's ropes are launched as their own calls even where
    /// the few-row kernels could fold them into the products around them (A/B runs).
    /// </summary>
    internal const string FoldVariable = "CANDLE_GPU_FOLD";

    /// <summary>
    /// Whether norms, gated units and ropes are folded into few-row products: where the few-row kernels come before any library
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
            while (j < calls.Count && FoldProductOf(calls[j]) is { } p && p.Reads(norm))
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

    /// <summary>
    /// Whether the folds keep what their products read and write live in the arena until those products ran (on by
    /// default; tests turn it off so that the arena shares that memory and the run-time overlap check must fall back).
    /// </summary>
    internal static bool HoldsFoldOperands { get; set; } = true;

    private void Hold(int slot, int until)
    {
        if (HoldsFoldOperands) _heldUntil[slot] = Math.Max(until, _heldUntil.GetValueOrDefault(slot));
    }

    /// <summary>The step of <paramref name="call"/>: <paramref name="step"/> itself, or its folded form where a fold changes the call.</summary>
    private Action<Frame> Folded(KernelCall call, Action<Frame> step) => RopeFolded(call, call switch
    {
        NormCall when _normFolds.TryGetValue(call, out var fold) => FoldedNorm(fold, step),
        ElementwiseCall when _gateFolds.TryGetValue(call, out var gate) => FoldedGate(gate, step),
        _ when _normFolds.ContainsKey(call) || _gateFolds.ContainsKey(call) => FoldedProduct(call, step),
        _ => step,
    });

    /// <summary>The norm's step where it is folded: nothing where the fold applies to this run, else the norm.</summary>
    private Action<Frame> FoldedNorm(NormFold fold, Action<Frame> norm) => f =>
    {
        if (FoldApplies(f, fold)) FoldedSteps++;
        else norm(f);
    };

    /// <summary>How many steps the runs so far left out because a product computed them (a folded norm, gated unit or rope call).</summary>
    internal long FoldedSteps { get; private set; }

    /// <summary>
    /// A folded product's step: where its gated unit is folded and that applies to this run, the fused kernel writing
    /// act(gate) · up (of the normalized rows where the norm fold applies too); else, where the norm fold applies, the
    /// fused kernel writing the product (then its epilogue); else the product.
    /// </summary>
    private Action<Frame> FoldedProduct(KernelCall call, Action<Frame> product)
    {
        _normFolds.TryGetValue(call, out var nf);
        _gateFolds.TryGetValue(call, out var gf);
        var p = _foldProducts[call];
        int index = nf is null ? -1 : Array.IndexOf(nf.Products, p);
        var epilogue = nf is not null && p.Epilogue is { } e ? Elementwise(e) : null;
        var plain = nf is not null ? FusedLauncher(p.DType, typeof(NoGate), call.Label) : null;
        var gated = gf is not null ? FusedLauncher(p.DType, gf.Activation, call.Label) : null;
        return f =>
        {
            bool normed = nf is not null && FoldApplies(f, nf);
            if (gf is not null && GateApplies(f, gf))
            {
                LaunchFused(f, gated!, p, normed ? nf : null, index, gf);
                return;
            }

            if (!normed)
            {
                product(f);
                return;
            }

            LaunchFused(f, plain!, p, nf, index, null);
            epilogue?.Invoke(f);
        };
    }

    /// <summary>The launcher of the fused kernel for a dtype and an <see cref="IGateActivation"/>.</summary>
    private KernelLauncher FusedLauncher(DType dt, Type activation, string label)
    {
        var (cElem, cStorage) = Storage(dt, label);
        return WithStaged(GroupLauncher(Generic(typeof(FusedGemvKernels), nameof(FusedGemvKernels.NormGemv), OctetStorage(dt)!, OctetRounding(dt), activation, cElem, cStorage)), dt, activation);
    }

    /// <summary>
    /// Launches <see cref="FusedGemvKernels.NormGemv{TS, TR, TA, TC, TCS}"/> for product <paramref name="p"/> as this run
    /// evaluated it: over the norm's x (+ residual) where <paramref name="nf"/> is given (the product's index
    /// <paramref name="index"/> among its products: the first writes the sum), else over the product's own rows; into the
    /// gated unit's output where <paramref name="gf"/> is given, else into the product's.
    /// </summary>
    private void LaunchFused(Frame f, KernelLauncher l, FoldProduct p, NormFold? nf, int index, GateFold? gf)
    {
        long size = p.DType.SizeInBytes();
        long octets = p.K / 8;
        Mem x;
        long xByte, xStride;
        Mem residual, sum, g;
        int flags = 0;
        float eps = 0f;
        if (nf is { Norm: var norm })
        {
            (x, xByte, xStride) = (f.Slots[norm.X], 0, octets);
            residual = norm.Residual >= 0 ? f.Slots[norm.Residual] : x;
            sum = norm.Residual >= 0 ? f.Slots[norm.Sum] : x;
            g = norm.Weight >= 0 ? f.Slots[norm.Weight] : x;
            flags = FusedGemvKernels.Normalizes | (norm.Weight >= 0 ? FusedGemvKernels.HasWeight : 0)
                | (norm.Residual >= 0 ? FusedGemvKernels.HasResidual | (index == 0 ? FusedGemvKernels.WritesSum : 0) : 0);
            eps = (float)norm.Eps;
        }
        else
        {
            (x, xByte, xStride) = (f.Slots[p.A.Slot], p.AOff * size, p.Rows > 1 ? p.RowStride / 8 : octets);
            (residual, sum, g) = (x, x, x);
        }

        long n = p.N, bOff = p.BOff;
        var c = f.Slots[p.C];
        if (gf is not null)
        {
            (n, bOff, c) = (gf.Width, bOff + (Math.Min(gf.Gate, gf.Up) * p.BN), f.Slots[gf.Unit.Output]);
            if (gf.Up < gf.Gate) flags |= FusedGemvKernels.UpFirst;
        }

        int warp = device.Accelerator.WarpSize, perGroup = FoldWarpGroup / warp;
        long warps = gf is not null ? n : (n + FusedGemvKernels.RowsPerWarp - 1) / FusedGemvKernels.RowsPerWarp;
        var config = new KernelConfig(new Index1D((int)((warps + perGroup - 1) / perGroup)), new Index1D(FoldWarpGroup));
        if (LaunchStaged(l, x, xByte, residual, sum, g, f.Slots[p.B.Slot], bOff * size, c, p.Rows, n, octets, flags, eps, p.BN / 8, xStride, gf is not null)) return;
        l.Begin().BytesView(x, xByte).BytesView(residual, 0).BytesView(sum, 0).BytesView(g, 0).BytesView(f.Slots[p.B.Slot], bOff * size).View(c)
            .Arg((int)p.Rows).Arg((int)n).Arg((int)octets).Arg(flags).Arg(eps).Arg(p.BN / 8).Arg(xStride)
            .Launch(config);
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
    /// Each product records what it evaluated (<see cref="FoldProduct.Fits"/>).
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
        foreach (var p in fold.Products)
        {
            if (!p.Fits(f) || p.K != len || p.AOff != 0 || p.Rows != rows || (rows > 1 && p.RowStride != len)) return false;
            var c = f.Slots[p.C];
            long cBytes = rows * p.N * size;
            if (Overlap(c, cBytes, x, bytes) || (residual is { } rr && (Overlap(c, cBytes, rr, bytes) || Overlap(c, cBytes, sum!.Value, bytes)))) return false;
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
    }

    /// <summary>The products of the folds by call, one instance per call whichever folds it takes part in.</summary>
    private readonly Dictionary<KernelCall, FoldProduct> _foldProducts = new(ReferenceEqualityComparer.Instance);

    /// <summary>The fused kernel's view of <paramref name="call"/> where it is a product the fused kernel can take (kept per call), else null.</summary>
    private FoldProduct? FoldProductOf(KernelCall call)
    {
        if (_foldProducts.TryGetValue(call, out var known)) return known;
        var p = FoldProduct.Of(call);
        if (p is not null && OctetStorage(p.DType) is not null) _foldProducts[call] = p;
        return p is not null && OctetStorage(p.DType) is not null ? p : null;
    }

    /// <summary>
    /// A product the fused kernel can take, as it sees it: a batched product of f32, f16 or bf16, or a float32 2-d
    /// product (a weight read as stored, with its epilogue), with what the last <see cref="Fits"/> evaluated.
    /// </summary>
    private sealed class FoldProduct(KernelCall call, DType dtype, TensorView a, TensorView b, int c, Dim m, Dim n, Dim k, Dim rowStride, Dim[] batch, ElementwiseCall? epilogue)
    {
        private readonly long[] _sizes = new long[batch.Length], _aBatch = new long[batch.Length], _bBatch = new long[batch.Length];

        public KernelCall Call { get; } = call;

        public DType DType { get; } = dtype;

        public TensorView A { get; } = a;

        public TensorView B { get; } = b;

        public int C { get; } = c;

        public ElementwiseCall? Epilogue { get; } = epilogue;

        /// <summary>The activation rows, their stride and offset, the output width, the depth and the weight's offset and row stride, as evaluated by <see cref="Fits"/>.</summary>
        public long Rows { get; private set; }

        public long RowStride { get; private set; }

        public long AOff { get; private set; }

        public long N { get; private set; }

        public long K { get; private set; }

        public long BOff { get; private set; }

        public long BN { get; private set; }

        public static FoldProduct? Of(KernelCall call) => call switch
        {
            BatchedMatMulCall bm when bm.DType is DType.F32 or DType.F16 or DType.BF16 && bm.A.DType == bm.DType && bm.B.StoredDType is null
                => new FoldProduct(bm, bm.DType, bm.A, bm.B, bm.C, bm.M, bm.N, bm.K, bm.A.Strides[^2], bm.BatchShape, null),
            GemmCall { A.DType: DType.F32, B.DType: DType.F32, B.StoredDType: null } g
                => new FoldProduct(g, DType.F32, g.A, g.B, g.C, g.Rows, g.N, g.K, g.ARowStride, [], g.Epilogue),
            _ => null,
        };

        /// <summary>
        /// Whether the product reads <paramref name="norm"/>'s output as its left operand (and nowhere else) in the norm's
        /// dtype and writes none of the norm's operands.
        /// </summary>
        public bool Reads(NormCall norm)
        {
            if (DType != norm.DType || A.Slot != norm.Y || B.Slot == norm.Y) return false;
            if (Epilogue is { } e && e.Inputs.Any(i => i.Slot == norm.Y)) return false;
            return C != norm.Y && C != norm.X && C != norm.Residual && C != norm.Sum;
        }

        /// <summary>
        /// Evaluates the product for this run; true where the fused kernel can take it: 1 to
        /// <see cref="GemvKernels.MaxRows"/> activation rows (<see cref="GemvRows"/>) with unit element stride, a depth
        /// that is a multiple of 8, and a weight in nn.Linear's layout whose offset and row stride are multiples of 8 in
        /// 16-byte aligned memory.
        /// </summary>
        public bool Fits(Frame f)
        {
            int br = batch.Length;
            long mm = f.Eval(m), nn = f.Eval(n), kk = f.Eval(k);
            EvalInto(f, batch, _sizes, 0);
            EvalInto(f, A.Strides[..br], _aBatch, 0);
            EvalInto(f, B.Strides[..br], _bBatch, 0);
            (N, K, AOff) = (nn, kk, f.Eval(A.Offset));
            if (kk < 8 || kk % 8 != 0 || kk / 8 > int.MaxValue || nn < 1 || nn > int.MaxValue || f.Eval(A.Strides[^1]) != 1) return false;
            if (GemvRows(mm, f.Eval(rowStride), Product(_sizes), _sizes, _aBatch, _bBatch) is not (long rows, long stride) || rows < 1 || rows > GemvKernels.MaxRows) return false;
            (Rows, RowStride) = (rows, stride);
            long bK = f.Eval(B.Strides[^2]);
            (BOff, BN) = (f.Eval(B.Offset), f.Eval(B.Strides[^1]));
            return bK == 1 && BOff % 8 == 0 && BN % 8 == 0 && BN >= kk && Aligned(f.Slots[B.Slot]);
        }
    }
}
