using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

internal sealed partial class Scheduler
{
    /// <summary>
    /// Lowers a <see cref="FusedKinds.MatMulEpilogue"/> group whose matmul and result are float32 and whose
    /// elementwise tail the kernel generator handles: the tail becomes one generated elementwise kernel over the
    /// matmul's dense result, in place. A 2-d GEMM applies it to each finished tile of C (bias, activation,
    /// residual, scale... while the tile is in cache); a batched product runs it as a step right after.
    /// Returns null for groups it does not take (the caller lowers those node by node).
    /// </summary>
    private TensorView? TryScheduleMatMulEpilogue(Node node, TensorView[] ins)
    {
        var body = node.Attr<FusedAttrs>().Body;
        var result = body.Outputs[0];
        var matmuls = body.Nodes.Where(n => n.Op == Op.MatMul).ToList();
        if (matmuls.Count != 1 || node.DType != DType.F32) return null;
        var mm = matmuls[0];
        if (mm.DType != DType.F32 || ReferenceEquals(result, mm) || mm.Inputs.Any(i => i.Op != Op.Input)) return null;

        if (EpilogueTail(result, mm) is not { } needed) return null;

        ElementwiseCall Build(int cSlot)
        {
            var (ops, kernelInputs) = Linearize(
                body.Nodes.Where(needed.Contains),
                result,
                n => ReferenceEquals(n, mm) ? TensorView.Dense(cSlot, DType.F32, mm.Shape) : n.Op == Op.Input ? TailOperand(ins[body.Inputs.IndexOf(n)]) : null);
            return ElementwiseKernel(ops, kernelInputs, DType.F32, node.Shape, cSlot, "matmul epilogue", inPlaceOfGemm: true);
        }

        // The tail reads its operands as float32: a deferred cast among them is materialized for it.
        TensorView TailOperand(TensorView v) => v.IsDeferredCast ? MaterializeCast(v) : v;

        var operands = mm.Inputs.Select(i => ins[body.Inputs.IndexOf(i)]).ToArray();
        var c = ScheduleMatMul(mm, operands, Build, out bool fused);
        if (!fused) _kg.Add(Build(c.Slot));

        return TensorView.Dense(c.Slot, DType.F32, node.Shape);
    }

    /// <summary>
    /// The tail of an epilogue group: every body node <paramref name="result"/> needs, stopping at the group's product
    /// <paramref name="product"/> (included); null when one of them is neither an input, a fill, the product nor an op
    /// the elementwise kernels compute.
    /// </summary>
    private static HashSet<Node>? EpilogueTail(Node result, Node product)
    {
        var needed = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Node>([result]);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (!needed.Add(n) || ReferenceEquals(n, product)) continue;
            foreach (var i in n.Inputs) stack.Push(i);
        }

        return needed.All(n => n.Op is Op.Input or Op.Full || ReferenceEquals(n, product) || ElementwiseSpec.Supports(n)) ? needed : null;
    }
}
