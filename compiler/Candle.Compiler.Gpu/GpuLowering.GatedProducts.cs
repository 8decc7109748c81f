using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Frame = Candle.Compiler.Gpu.GpuExecutable.Frame;
using Mem = Candle.Compiler.Gpu.GpuExecutable.Mem;

namespace Candle.Compiler.Gpu;

/// <summary>
/// Gated units folded into the few-row product that computes both their halves (a merged gate/up projection followed
/// by SwiGLU): where the elementwise call right after a product is exactly act(c[..., gate half]) · c[..., up half] over
/// that product's output (silu, gelu or its tanh form) and nothing else reads the product, the product's step writes
/// act(gate) · up straight into the elementwise call's output, one warp per output column over its gate and up weight
/// rows (<see cref="FusedGemvKernels.NormGemv{TS, TR, TA, TC, TCS}"/>, over the normalized rows where the product's norm
/// is folded too), and the elementwise step launches nothing.
/// </summary>
internal sealed partial class GpuLowering
{
    /// <summary>The gated-unit folds by the calls they change: the product and the elementwise call.</summary>
    private readonly Dictionary<KernelCall, GateFold> _gateFolds = new(ReferenceEqualityComparer.Instance);

    /// <summary>
    /// Pairs each product the fused kernel can take with the elementwise call right after it where that call is a gated
    /// unit over the product's two halves (<see cref="GateOf"/>), the product is no graph output and nothing else reads it.
    /// </summary>
    private void PrepareGateFolds(KernelGraph graph)
    {
        if (!Folds) return;
        var outputs = graph.Outputs.Select(o => o.Buffer).ToHashSet();
        var calls = graph.Calls;
        for (int i = 0; i + 1 < calls.Count; i++)
        {
            if (calls[i + 1] is not ElementwiseCall { Inputs: [var first, var second] } e || e.Kernel.Stores.Count > 0) continue;
            if (GateOf(e.Kernel) is not (Type activation, int gate) || FoldProductOf(calls[i]) is not { Epilogue: null } p) continue;
            if (first.Slot != p.C || second.Slot != p.C || e.Output == p.C || outputs.Contains(p.C) || e.Kernel.OutDType != p.DType) continue;
            if (e.Kernel.Inputs.Any(input => input.DType != p.DType || input.Access != InnerAccess.Contiguous)) continue;
            bool elsewhere = false;
            for (int c = 0; c < calls.Count && !elsewhere; c++)
            {
                if (c != i && c != i + 1 && calls[c].Slots.Contains(p.C)) elsewhere = true;
            }

            if (elsewhere) continue;
            var fold = new GateFold(p.Call, e, activation, gate);
            _gateFolds[p.Call] = fold;
            _gateFolds[e] = fold;

            // The product's step writes the unit's output, whose memory the arena would otherwise share with what that
            // step reads for the last time: those stay live through the unit's place.
            Hold(p.A.Slot, i + 1);
            if (_normFolds.TryGetValue(p.Call, out var nf))
            {
                Hold(nf.Norm.X, i + 1);
                if (nf.Norm.Residual >= 0)
                {
                    Hold(nf.Norm.Residual, i + 1);
                    Hold(nf.Norm.Sum, i + 1);
                }
            }
        }
    }

    /// <summary>
    /// The activation (an <see cref="IGateActivation"/>) and the input holding the gate where a two-input kernel body is
    /// exactly act(in_g) · in_u (either order of the product), for silu, gelu and gelu's tanh form; null otherwise.
    /// </summary>
    internal static (Type Activation, int Gate)? GateOf(ElementwiseSpec spec)
    {
        if (spec.Inputs.Count != 2 || spec.Body.Count != 4 || spec.Rank > 2) return null;
        var body = spec.Body;
        int act = -1, mul = -1;
        for (int i = 0; i < body.Count; i++)
        {
            var op = body[i];
            if (op.Op == Op.Input) continue;
            if (op.Op is Op.Silu or Op.Gelu or Op.GeluTanh && op.Args.Length == 1 && act < 0) act = i;
            else if (op.Op == Op.Mul && op.Args.Length == 2 && mul < 0) mul = i;
            else return null;
        }

        if (act < 0 || mul != body.Count - 1) return null;
        int g = body[act].Args[0];
        if (g < 0 || g >= body.Count || body[g].Op != Op.Input) return null;
        var args = body[mul].Args;
        int other = args[0] == act ? args[1] : args[1] == act ? args[0] : -1;
        if (other < 0 || body[other].Op != Op.Input || body[other].Input == body[g].Input) return null;
        var type = body[act].Op switch
        {
            Op.Silu => typeof(SiluGate),
            Op.Gelu => typeof(GeluGate),
            _ => typeof(GeluTanhGate),
        };
        return (type, body[g].Input);
    }

    /// <summary>The gated unit's step where it is folded: nothing where the fold applies to this run, else the unit.</summary>
    private Action<Frame> FoldedGate(GateFold fold, Action<Frame> unit) => f =>
    {
        if (GateApplies(f, fold)) FoldedSteps++;
        else unit(f);
    };

    /// <summary>
    /// Whether this run writes the gated unit from its product: the same predicate for the product's step and the
    /// unit's. The product must fit the fused kernel (<see cref="FoldProduct.Fits"/>) over the norm's rows where its
    /// norm is folded this run (<see cref="FoldApplies"/>), else over its own rows 16-byte aligned with a row stride that
    /// is a multiple of 8; the unit must read the product's two halves as [rows, width] views with unit element stride
    /// and the product's row stride, one from column 0 and the other from column width (the product's width is twice
    /// it), and write a dense output that overlaps none of what the fused kernel reads. Records the halves in
    /// <paramref name="fold"/>.
    /// </summary>
    private bool GateApplies(Frame f, GateFold fold)
    {
        var p = _foldProducts[fold.Product];
        bool normed = _normFolds.TryGetValue(fold.Product, out var nf) && FoldApplies(f, nf);
        if (!normed && !p.Fits(f)) return false;
        long rows = p.Rows, n = p.N, width = n / 2, size = p.DType.SizeInBytes();
        if (n % 2 != 0 || FoldWarpGroup <= 0) return false;
        var e = fold.Unit;
        long count = f.Eval(e.Numel);
        if (count != rows * width) return false;
        int rank = e.Shape.Length;
        if (rank == 0 || f.Eval(e.Shape[^1]) != width || (rank == 2 && f.Eval(e.Shape[0]) != rows) || (rank == 1 && rows != 1)) return false;
        long gate = -1, up = -1;
        for (int i = 0; i < 2; i++)
        {
            var input = e.Inputs[i];
            if (f.Eval(input.Strides[^1]) != 1 || (rank == 2 && rows > 1 && f.Eval(input.Strides[0]) != n)) return false;
            long offset = f.Eval(input.Offset);
            if (i == fold.GateInput) gate = offset;
            else up = offset;
        }

        if (!(gate == 0 && up == width) && !(gate == width && up == 0)) return false;
        (fold.Gate, fold.Up, fold.Width) = (gate, up, width);
        var output = f.Slots[e.Output];
        long outBytes = rows * width * size;
        if (normed)
        {
            var norm = nf!.Norm;
            long bytes = rows * p.K * size;
            if (Overlap(output, outBytes, f.Slots[norm.X], bytes)) return false;
            return norm.Residual < 0 || !(Overlap(output, outBytes, f.Slots[norm.Residual], bytes) || Overlap(output, outBytes, f.Slots[norm.Sum], bytes));
        }

        var a = f.Slots[p.A.Slot];
        if (a.Buffer.Address(a.Offset + (p.AOff * size)) % 16 != 0 || (rows > 1 && p.RowStride % 8 != 0)) return false;
        var read = a with { Offset = a.Offset + (p.AOff * size) };
        return !Overlap(output, outBytes, read, (((rows - 1) * p.RowStride) + p.K) * size);
    }

    /// <summary>A gated unit folded into its product, with the halves the last <see cref="GateApplies"/> evaluated (in columns of the product).</summary>
    private sealed class GateFold(KernelCall product, ElementwiseCall unit, Type activation, int gateInput)
    {
        /// <summary>The product whose two halves the unit reads.</summary>
        public KernelCall Product { get; } = product;

        public ElementwiseCall Unit { get; } = unit;

        public Type Activation { get; } = activation;

        /// <summary>The unit's input that holds the gate half.</summary>
        public int GateInput { get; } = gateInput;

        public long Gate { get; set; }

        public long Up { get; set; }

        public long Width { get; set; }
    }
}
