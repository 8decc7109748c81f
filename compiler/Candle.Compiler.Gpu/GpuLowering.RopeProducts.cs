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
/// A decode step's rope and KV cache row writes folded into the merged q/k/v product
/// (<see cref="RopeGemvKernels.RopeGemv{TS, TR, T, TCS}"/>): where every part of a <see cref="RopeRowsCall"/> reads
/// slices of one few-row product's output that nothing else reads and that is no graph output, the product (with its
/// rms_norm where that is folded too) runs at the rope call's place and writes the rotated query, the rotated key
/// cache row and the value cache row itself; its own place launches nothing, and neither does the rope call's
/// separate launch.
/// </summary>
internal sealed partial class GpuLowering
{
    /// <summary>
    /// Set to 0, a decode step's rope call is launched on its own even where its q/k/v product could write the rotated
    /// rows (A/B runs); <see cref="FoldVariable"/> 0 turns this fold off too.
    /// </summary>
    internal const string RopeFoldVariable = "CANDLE_GPU_FOLD_ROPE";

    /// <summary>Values one part takes in <see cref="RopeGemvKernels.RopeGemv{TS, TR, T, TCS}"/>'s argument list.</summary>
    private const int RopePartArgs = 29;

    /// <summary>The rope folds by the calls they change: the product and the rope call.</summary>
    private readonly Dictionary<KernelCall, RopeFold> _ropeFolds = new(ReferenceEqualityComparer.Instance);

    /// <summary>
    /// Pairs each <see cref="RopeRowsCall"/> whose parts all read (as x) one buffer with the product that writes it:
    /// the last call before the rope call that uses the buffer, a product the fused kernels can take
    /// (<see cref="FoldProductOf"/>) without an epilogue or a gated-unit fold, in the rope call's dtype, where nothing
    /// else uses that buffer and it is no graph output. The calls between the two (the tables' computation, range
    /// checks) must use nothing the product reads (its operands, its norm's) and nothing the rope call writes, since
    /// the product then runs at the rope call's place; those operands stay live until then. Each part's rows are
    /// collapsed as <see cref="RopeRows"/> collapses them; a part that does not collapse leaves the call as it is.
    /// </summary>
    private void PrepareRopeFolds(KernelGraph graph)
    {
        if (!Folds || Environment.GetEnvironmentVariable(RopeFoldVariable) == "0") return;
        var outputs = graph.Outputs.Select(o => o.Buffer).ToHashSet();
        var calls = graph.Calls;
        for (int j = 0; j < calls.Count; j++)
        {
            if (calls[j] is not RopeRowsCall rope || rope.Parts.Count is 0 or > Scheduler.MaxRopeParts || rope.DType is not (DType.F32 or DType.F16 or DType.BF16)) continue;
            int c = rope.Parts[0].X.Slot;
            if (c < 0 || outputs.Contains(c)) continue;
            if (rope.Parts.Any(p => p.X.Slot != c || p.X.DType != rope.DType || p.Y.DType != rope.DType || p.X.IsConstant || p.Y.IsConstant
                || p.Y.Slot == c || p.Cos?.Slot == c || p.Sin?.Slot == c || p.Row?.Slot == c))
            {
                continue;
            }

            int i = j - 1;
            while (i >= 0 && !calls[i].Slots.Contains(c)) i--;
            if (i < 0 || FoldProductOf(calls[i]) is not { Epilogue: null } product || product.C != c || product.DType != rope.DType) continue;
            if (product.A.Slot == c || product.B.Slot == c || _gateFolds.ContainsKey(product.Call) || _ropeFolds.ContainsKey(product.Call)) continue;
            bool elsewhere = false;
            for (int k = 0; k < calls.Count && !elsewhere; k++)
            {
                if (k != i && k != j && calls[k].Slots.Contains(c)) elsewhere = true;
            }

            if (elsewhere || RopeFoldParts(rope) is not { } parts) continue;
            _normFolds.TryGetValue(product.Call, out var nf);
            var read = new HashSet<int> { product.A.Slot, product.B.Slot };
            if (nf is { Norm: var norm }) read.UnionWith([norm.X, norm.Residual, norm.Sum, norm.Weight]);
            read.Remove(-1);
            var written = rope.Parts.Select(p => p.Y.Slot).ToHashSet();
            bool blocked = false;
            for (int k = i + 1; k < j && !blocked; k++)
            {
                if (calls[k] is CheckRangeCall) continue;

                // Without the holds the arena may lay what runs between over what the product reads at the rope call's place.
                blocked = !HoldsFoldOperands || calls[k].Slots.Any(s => read.Contains(s) || written.Contains(s));
            }

            if (blocked) continue;
            var fold = new RopeFold(product, rope, parts);
            _ropeFolds[product.Call] = fold;
            _ropeFolds[rope] = fold;
            foreach (int s in read) Hold(s, j);
        }
    }

    /// <summary>Each part's rows collapsed over its x, table and output strides with its x, tables and output, or null where a part does not fit the kernel.</summary>
    private static RopeFoldPart[]? RopeFoldParts(RopeRowsCall rope)
    {
        var parts = new RopeFoldPart[rope.Parts.Count];
        for (int k = 0; k < parts.Length; k++)
        {
            var p = rope.Parts[k];
            var tables = p.Rotates ? new[] { p.Cos!, p.Sin! } : [p.X, p.X];
            if (p.X.Rank == 0 || p.Y.Rank != p.X.Rank || tables.Any(t => t.Rank != p.X.Rank || t.IsConstant || t.DType != rope.DType)) return null;
            if (p.Row is { } r && (r.IsConstant || r.DType != DType.I64 || r.Rank != 1)) return null;
            var (lead, strides) = Scheduler.Collapse(p.X.Shape[..^1], [p.X.Strides[..^1], tables[0].Strides[..^1], tables[1].Strides[..^1], p.Y.Strides[..^1]]);
            if (lead.Length > Scheduler.RopePartRank) return null;
            parts[k] = new RopeFoldPart(p, lead, strides, [p.X, tables[0], tables[1], p.Y]);
        }

        return rope.Parts.Where(p => p.Row is not null).Select(p => p.Row!.Slot).Distinct().Count() > 1 ? null : parts;
    }

    /// <summary>
    /// The step of a call a rope fold changes: the product's launches nothing where the fold applies to this run; the
    /// rope call's then launches the fused product (<see cref="LaunchRopeProduct"/>); else both run as
    /// <paramref name="step"/> does.
    /// </summary>
    private Action<Frame> RopeFolded(KernelCall call, Action<Frame> step)
    {
        if (!_ropeFolds.TryGetValue(call, out var fold)) return step;
        if (!ReferenceEquals(call, fold.Rope))
        {
            return f =>
            {
                if (!RopeApplies(f, fold)) step(f);
            };
        }

        var p = fold.Product;
        var (elem, storage) = Storage(p.DType, fold.Rope.Label);
        var l = GroupLauncher(Generic(typeof(RopeGemvKernels), nameof(RopeGemvKernels.RopeGemv), OctetStorage(p.DType)!, OctetRounding(p.DType), elem, storage));
        return f =>
        {
            if (!RopeApplies(f, fold))
            {
                step(f);
                return;
            }

            LaunchRopeProduct(f, l, fold);
            FoldedSteps++;
        };
    }

    /// <summary>
    /// Whether this run folds the rope call into its product: the same predicate over the evaluated sizes, strides and
    /// addresses for both steps. The product must fit the fused kernel over its norm's rows where that fold applies
    /// this run (<see cref="FoldApplies"/>), else over its own 16-byte aligned row (<see cref="FoldProduct.Fits"/>),
    /// with exactly one activation row; every part's x must lie in that output row and walk it with non-negative
    /// strides, its tables, row indices and output (every cache row it may pick) inside their buffers, and its output
    /// must overlap nothing the product reads or writes (x, the residual, the sum, the norm's weight, the weight).
    /// Records every part's kernel arguments in <paramref name="fold"/>.
    /// </summary>
    private bool RopeApplies(Frame f, RopeFold fold)
    {
        var p = fold.Product;
        bool normed = _normFolds.TryGetValue(p.Call, out var nf) && FoldApplies(f, nf);
        if (!normed && !p.Fits(f)) return false;
        long size = p.DType.SizeInBytes(), hd = f.Eval(fold.Rope.HeadDim);
        if (p.Rows != 1 || FoldWarpGroup <= 0 || hd < 2 || hd % 2 != 0 || hd > int.MaxValue) return false;
        var reads = fold.Reads;
        reads.Clear();
        if (normed)
        {
            var norm = nf!.Norm;
            long bytes = p.K * size;
            reads.Add((f.Slots[norm.X], bytes));
            if (norm.Residual >= 0) reads.AddRange([(f.Slots[norm.Residual], bytes), (f.Slots[norm.Sum], bytes)]);
            if (norm.Weight >= 0) reads.Add((f.Slots[norm.Weight], bytes));
        }
        else
        {
            var a = f.Slots[p.A.Slot];
            var read = a with { Offset = a.Offset + (p.AOff * size) };
            if (!Aligned(read)) return false;
            reads.Add((read, p.K * size));
        }

        var b = f.Slots[p.B.Slot];
        reads.Add((b with { Offset = b.Offset + (p.BOff * size) }, (((p.N - 1) * p.BN) + p.K) * size));
        long total = 0;
        for (int k = 0; k < fold.Parts.Length; k++)
        {
            if (!RopePartFits(f, fold, k, hd, p.N, size, reads)) return false;
            total += fold.Pairs[k];
            fold.Ends[k] = total;
        }

        for (int k = fold.Parts.Length; k < fold.Ends.Length; k++) fold.Ends[k] = total;
        int perGroup = FoldWarpGroup / device.Accelerator.WarpSize;
        return total > 0 && (total + perGroup - 1) / perGroup <= int.MaxValue;
    }

    /// <summary>
    /// Evaluates part <paramref name="k"/> of the fold for this run into its kernel arguments and pair count; false
    /// where it does not fit (<see cref="RopeApplies"/>).
    /// </summary>
    private static bool RopePartFits(Frame f, RopeFold fold, int k, long hd, long n, long size, List<(Mem Mem, long Bytes)> reads)
    {
        const int R = Scheduler.RopePartRank;
        var (part, lead, strides, ops) = fold.Parts[k];
        long numel = f.Eval(part.X.Numel);
        if (numel <= 0 || numel % hd != 0) return false;
        long rows = numel / hd;
        var args = fold.Args.AsSpan(k * RopePartArgs, RopePartArgs);
        Span<long> dims = stackalloc long[R];
        dims.Fill(1);
        int pad = R - lead.Length;
        for (int d = 0; d < lead.Length; d++) dims[pad + d] = f.Eval(lead[d]);
        args[0] = part.Rotates ? 1 : 0;
        (args[1], args[2]) = (dims[1], dims[2]);
        if (dims[1] <= 0 || dims[2] <= 0) return false;
        Span<long> last = stackalloc long[4];
        for (int o = 0; o < 4; o++)
        {
            int at = 3 + (5 * o);
            args[at] = f.Eval(ops[o].Offset);
            for (int d = 0; d < R; d++) args[at + 1 + d] = d < pad ? 0 : f.Eval(strides[o][d - pad]);
            args[at + 4] = f.Eval(ops[o].Strides[^1]);

            // The last element the operand's view reaches (all strides non-negative where they count): the tables hold half a row.
            long reach = args[at] + (((o is 1 or 2 ? hd / 2 : hd) - 1) * args[at + 4]);
            if (args[at] < 0 || args[at + 4] < 0) return false;
            for (int d = 0; d < R; d++)
            {
                if (dims[d] == 1) continue;
                if (args[at + 1 + d] < 0) return false;
                reach += (dims[d] - 1) * args[at + 1 + d];
            }

            last[o] = reach;
        }

        // x: columns of the product's one output row; tables (where read) inside their buffers.
        if (last[0] >= n) return false;
        if (part.Rotates && (!Inside(f.Slots[part.Cos!.Slot], last[1], size) || !Inside(f.Slots[part.Sin!.Slot], last[2], size))) return false;
        args[23] = 0;
        (args[24], args[25], args[26], args[27], args[28]) = (0, 0, 1, 0, 0);
        long yReach = last[3];
        if (part.Row is { } row)
        {
            long batch = f.Eval(part.RowBatch), rowStride = f.Eval(part.RowStride), capacity = f.Eval(part.Capacity);
            long rOff = f.Eval(row.Offset), rStride = f.Eval(row.Strides[0]);
            if (batch <= 0 || rows % batch != 0 || rowStride < 0 || capacity < 0 || rOff < 0 || rStride < 0) return false;
            if (!Inside(f.Slots[row.Slot], rOff + ((batch - 1) * rStride), sizeof(long))) return false;
            (args[23], args[24], args[25], args[26], args[27], args[28]) = (1, rOff, rStride, rows / batch, rowStride, capacity);
            yReach += Math.Max(0, capacity - 1) * rowStride;
        }

        var y = f.Slots[part.Y.Slot];
        if (!Inside(y, yReach, size)) return false;
        var written = y with { Offset = y.Offset + (args[18] * size) };
        long yBytes = (yReach - args[18] + 1) * size;
        foreach (var (mem, bytes) in reads)
        {
            if (Overlap(written, yBytes, mem, bytes)) return false;
        }

        fold.Pairs[k] = numel / 2;
        return true;
    }

    /// <summary>Whether element <paramref name="last"/> of <paramref name="size"/> bytes lies inside <paramref name="m"/>.</summary>
    private static bool Inside(Mem m, long last, long size) => last >= 0 && (last + 1) * size <= m.Bytes;

    /// <summary>
    /// Launches <see cref="RopeGemvKernels.RopeGemv{TS, TR, T, TCS}"/> for the fold as <see cref="RopeApplies"/>
    /// evaluated it: over the norm's x (+ residual; the product's index among its norm's products decides whether it
    /// writes the sum) where that fold applies, else over the product's own row; one warp a rotary pair.
    /// </summary>
    private void LaunchRopeProduct(Frame f, KernelLauncher l, RopeFold fold)
    {
        var p = fold.Product;
        long size = p.DType.SizeInBytes();
        long octets = p.K / 8;
        Mem x;
        long xByte;
        Mem residual, sum, g;
        int flags = 0;
        float eps = 0f;
        if (_normFolds.TryGetValue(p.Call, out var nf) && FoldApplies(f, nf))
        {
            var norm = nf.Norm;
            (x, xByte) = (f.Slots[norm.X], 0);
            residual = norm.Residual >= 0 ? f.Slots[norm.Residual] : x;
            sum = norm.Residual >= 0 ? f.Slots[norm.Sum] : x;
            g = norm.Weight >= 0 ? f.Slots[norm.Weight] : x;
            flags = FusedGemvKernels.Normalizes | (norm.Weight >= 0 ? FusedGemvKernels.HasWeight : 0)
                | (norm.Residual >= 0 ? FusedGemvKernels.HasResidual | (Array.IndexOf(nf.Products, p) == 0 ? FusedGemvKernels.WritesSum : 0) : 0);
            eps = (float)norm.Eps;
        }
        else
        {
            (x, xByte) = (f.Slots[p.A.Slot], p.AOff * size);
            (residual, sum, g) = (x, x, x);
        }

        var parts = fold.Parts;
        var table = parts.FirstOrDefault(q => q.Part.Rotates)?.Part;
        var y0 = f.Slots[parts[0].Part.Y.Slot];
        var (cos, sin) = table is null ? (y0, y0) : (f.Slots[table.Cos!.Slot], f.Slots[table.Sin!.Slot]);
        var rowPart = parts.FirstOrDefault(q => q.Part.Row is not null)?.Part;
        l.Begin().BytesView(x, xByte).BytesView(residual, 0).BytesView(sum, 0).BytesView(g, 0).BytesView(f.Slots[p.B.Slot], p.BOff * size)
            .View(cos).View(sin).View(rowPart is null ? new Mem(f.Scratch!, 0, 16) : f.Slots[rowPart.Row!.Slot]);
        for (int k = 0; k < Scheduler.MaxRopeParts; k++) l.View(f.Slots[parts[Math.Min(k, parts.Length - 1)].Part.Y.Slot]);
        l.Arg((int)octets).Arg(flags).Arg(eps).Arg(p.BN / 8).Arg((int)f.Eval(fold.Rope.HeadDim)).Arg(fold.Rope.Interleaved ? 1 : 0)
            .Arg(fold.Ends[0]).Arg(fold.Ends[1]).Arg(fold.Ends[2]);
        for (int k = 0; k < Scheduler.MaxRopeParts; k++)
        {
            // Absent parts take no warps; their arguments only keep the divisions defined.
            var args = k < parts.Length ? fold.Args.AsSpan(k * RopePartArgs, RopePartArgs) : fold.Empty;
            for (int a = 0; a < RopePartArgs; a++)
            {
                if (a is 0 or 23) l.Arg((int)args[a]);
                else l.Arg(args[a]);
            }
        }

        int warp = device.Accelerator.WarpSize, perGroup = FoldWarpGroup / warp;
        long warps = fold.Ends[2];
        l.Launch(new KernelConfig(new Index1D((int)((warps + perGroup - 1) / perGroup)), new Index1D(FoldWarpGroup)));
    }

    /// <summary>One part of a folded rope call: its rows collapsed as <see cref="RopeRows"/> collapses them, with its x, tables and output.</summary>
    private sealed record RopeFoldPart(RopePart Part, Dim[] Lead, Dim[][] Strides, TensorView[] Ops);

    /// <summary>A rope call folded into the product whose output its parts read, with what the last <see cref="RopeApplies"/> evaluated.</summary>
    private sealed class RopeFold(FoldProduct product, RopeRowsCall rope, RopeFoldPart[] parts)
    {
        public FoldProduct Product { get; } = product;

        public RopeRowsCall Rope { get; } = rope;

        public RopeFoldPart[] Parts { get; } = parts;

        /// <summary>Each part's kernel arguments (<see cref="RopePartArgs"/> a part).</summary>
        public long[] Args { get; } = new long[Scheduler.MaxRopeParts * RopePartArgs];

        /// <summary>Each part's rotary pairs.</summary>
        public long[] Pairs { get; } = new long[Scheduler.MaxRopeParts];

        /// <summary>The pairs of the parts up to each, as the kernel's end0, end1 and end2.</summary>
        public long[] Ends { get; } = new long[Scheduler.MaxRopeParts];

        /// <summary>The memory the fused kernel reads (and the sum it writes) with its bytes, as the last <see cref="RopeApplies"/> found it.</summary>
        public List<(Mem Mem, long Bytes)> Reads { get; } = [];

        /// <summary>The arguments of an absent part: no row index, unit sizes.</summary>
        public long[] Empty { get; } = [0, 1, 1, .. new long[20], 0, 0, 0, 1, 0, 0];
    }
}
