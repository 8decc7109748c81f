using Candle.Compiler.Backends.Cpu.Emit;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime;

namespace Candle.Compiler.Lowering;

internal sealed partial class GraphLowering
{
    /// <summary>
    /// Lowers a <see cref="FusedKinds.MatMulEpilogue"/> group whose matmul and result are float32 and whose
    /// elementwise tail the kernel generator handles: the tail becomes one generated elementwise kernel over the
    /// matmul's dense result, in place. A 2-d GEMM applies it to each finished tile of C (bias, activation,
    /// residual, scale... while the tile is in cache); a batched product runs it as a step right after.
    /// Returns null for groups it does not take (the caller lowers those node by node).
    /// </summary>
    private TensorView? TryLowerMatMulEpilogue(Node node, TensorView[] ins)
    {
        var body = node.Attr<FusedAttrs>().Body;
        var result = body.Outputs[0];
        var matmuls = body.Nodes.Where(n => n.Op == Op.MatMul).ToList();
        if (matmuls.Count != 1 || node.DType != DType.F32) return null;
        var mm = matmuls[0];
        if (mm.DType != DType.F32 || ReferenceEquals(result, mm) || mm.Inputs.Any(i => i.Op != Op.Input)) return null;

        // The tail: every node the result needs, stopping at the matmul.
        var needed = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Node>([result]);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (!needed.Add(n) || ReferenceEquals(n, mm)) continue;
            foreach (var i in n.Inputs) stack.Push(i);
        }

        if (needed.Any(n => n.Op is not (Op.Input or Op.Full or Op.MatMul) && !ElementwiseSpec.Supports(n))) return null;

        GemmEpilogue Build(int cSlot)
        {
            var map = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
            var ops = new List<BodyOp>();
            var kernelInputs = new List<TensorView>();
            foreach (var n in body.Nodes)
            {
                if (!needed.Contains(n)) continue;
                if (ReferenceEquals(n, mm) || n.Op == Op.Input)
                {
                    var v = ReferenceEquals(n, mm) ? TensorView.Dense(cSlot, DType.F32, mm.Shape) : ins[body.Inputs.IndexOf(n)];
                    if (v.IsDeferredCast) v = MaterializeCast(v);
                    if (v.IsConstant)
                    {
                        ops.Add(new BodyOp(Op.Full, n.DType, [], Constant: v.Constant!.Value));
                    }
                    else
                    {
                        kernelInputs.Add(v);
                        ops.Add(new BodyOp(Op.Input, n.DType, [], Input: kernelInputs.Count - 1));
                    }
                }
                else if (n.Op == Op.Full)
                {
                    ops.Add(new BodyOp(Op.Full, n.DType, [], Constant: n.Attr<FullAttrs>().Value));
                }
                else
                {
                    ops.Add(new BodyOp(n.Op, n.DType, [.. n.Inputs.Select(i => map[i])]));
                }

                map[n] = ops.Count - 1;
            }

            if (map[result] != ops.Count - 1) ops.Add(ops[map[result]]);
            var (name, args) = BuildElementwise(ops, kernelInputs, DType.F32, node.Shape, cSlot);
            return new GemmEpilogue(name, args, [.. kernelInputs.Select(v => v.Slot)]);
        }

        var operands = mm.Inputs.Select(i => ins[body.Inputs.IndexOf(i)]).ToArray();
        var c = LowerMatMul(mm, operands, Build, out bool fused);
        if (!fused)
        {
            var epi = Build(c.Slot);
            _pb.AddStep("gen:" + epi.Kernel, epi.Args, node.Shape.Numel, 4, "matmul epilogue", [c.Slot, .. epi.Slots]);
        }

        return TensorView.Dense(c.Slot, DType.F32, node.Shape);
    }
}
