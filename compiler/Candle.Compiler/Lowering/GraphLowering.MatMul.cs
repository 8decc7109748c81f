using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Lowering;

internal sealed partial class GraphLowering
{
    /// <summary>
    /// A generated elementwise kernel applied in place to the dense result of a GEMM, tile by tile:
    /// its name, arguments and the buffers it reads.
    /// </summary>
    private sealed record GemmEpilogue(string Kernel, List<Dim> Args, int[] Slots);

    /// <summary>
    /// Lowers a matmul. float32 products whose right operand is one matrix for every batch (a weight, broadcast by
    /// expands or size-1 batch dims) fold the batch dims into rows and become one 2-d GEMM (<c>rt:gemm</c>), with
    /// constant weights packed once per process when first multiplied by more than one row, an optional epilogue,
    /// and a bfloat16 weight whose cast was deferred read as it is stored; other float32 products are
    /// batched Sgemm calls over strided operands; other dtypes use the plain kernel.
    /// </summary>
    /// <param name="node">The matmul.</param>
    /// <param name="ins">Its operands.</param>
    /// <param name="epilogue">Builds the epilogue for the dense result slot, or returns null; only 2-d GEMMs take one.</param>
    /// <param name="fused">Whether the epilogue was fused (false: the caller applies it itself).</param>
    private TensorView LowerMatMul(Node node, TensorView[] ins, Func<int, GemmEpilogue?>? epilogue, out bool fused)
    {
        fused = false;
        var a = ins[0].IsConstant ? Dense(ins[0], "matmul") : ins[0].IsDeferredCast ? MaterializeCast(ins[0]) : ins[0];
        var b = ins[1].IsConstant ? Dense(ins[1], "matmul") : ins[1];
        int r = a.Rank, br = r - 2;
        if (b.IsDeferredCast && !(node.DType == DType.F32 && SharedRightMatrix(b, br) && IsStaticWeightGeometry(b)))
        {
            b = MaterializeCast(b);
        }

        var m = a.Shape[r - 2];
        var k = a.Shape[r - 1];
        var n = b.Shape[r - 1];
        if (node.DType == DType.F32 && SharedRightMatrix(b, br))
        {
            if (RowsOf(a, r - 1) is not { } rowStride)
            {
                a = Dense(a, "matmul rows");
                rowStride = k;
            }

            var y = NewOutput(node);
            var rows = Prod(a.Shape.Take(r - 1));
            var gemmArgs = new List<Dim>
            {
                a.Slot, a.Offset, rowStride, a.Strides[r - 1],
                b.Slot, b.Offset, b.Strides[r - 2], b.Strides[r - 1],
                y.Slot, rows, n, k,
                _options.PrepackWeights && _pb.KindOf(b.Slot) == Runtime.Plans.BufferKind.Weight ? 1 : 0,
                (int)(b.StoredDType ?? DType.F32),
            };
            var epi = epilogue?.Invoke(y.Slot);
            var args = new List<Dim>();
            if (epi is not null) args.AddRange(epi.Args);
            args.AddRange(gemmArgs);
            args.Add(epi?.Args.Count ?? 0);
            string kernel = epi is null ? "rt:gemm" : "rt:gemm@gen:" + epi.Kernel;
            _pb.AddStep(kernel, args, Dim.One, Dim.Zero, epi is null ? "matmul" : "matmul + epilogue", [a.Slot, b.Slot, y.Slot, .. epi?.Slots ?? []]);
            fused = epi is not null;
            return y;
        }

        var batched = NewOutput(node);
        var bargs = new List<Dim> { a.Slot, b.Slot, batched.Slot, (int)node.DType, m, n, k, br };
        bargs.AddRange(node.Shape.Take(br));
        bargs.Add(a.Offset);
        bargs.AddRange(a.Strides.Take(br));
        bargs.Add(a.Strides[r - 2]);
        bargs.Add(a.Strides[r - 1]);
        bargs.Add(b.Offset);
        bargs.AddRange(b.Strides.Take(br));
        bargs.Add(b.Strides[r - 2]);
        bargs.Add(b.Strides[r - 1]);
        if (node.DType == DType.F32)
        {
            // Sgemm splits its own work over the pool.
            _pb.AddStep("rt:sgemm", bargs, Dim.One, Dim.Zero, "matmul", a.Slot, b.Slot, batched.Slot);
        }
        else
        {
            _pb.AddStep("rt:matmul", bargs, Prod(node.Shape.Take(br)) * m, n * k, "matmul", a.Slot, b.Slot, batched.Slot);
        }

        return batched;
    }

    /// <summary>True when the kernel can pack <paramref name="b"/> when the plan is created: static offset, strides and size.</summary>
    private static bool IsStaticWeightGeometry(TensorView b)
    {
        int r = b.Rank;
        return b.Offset.IsConstant && b.Strides[r - 2].IsConstant && b.Strides[r - 1].IsConstant
            && b.Shape[r - 2].IsConstant && b.Shape[r - 1].IsConstant;
    }

    /// <summary>True when every batch of <paramref name="b"/> is the same matrix (batch dims of size 1 or stride 0).</summary>
    private static bool SharedRightMatrix(TensorView b, int batchRank)
    {
        for (int d = 0; d < batchRank; d++)
        {
            if (b.Shape[d] != Dim.One && b.Strides[d] != Dim.Zero) return false;
        }

        return true;
    }

    /// <summary>
    /// The one stride that walks the first <paramref name="count"/> dims of <paramref name="v"/> as a single run of
    /// rows, or null when they do not form one (size-1 dims are ignored).
    /// </summary>
    private static Dim? RowsOf(TensorView v, int count)
    {
        Dim? stride = null;
        Dim span = Dim.One;
        for (int d = count - 1; d >= 0; d--)
        {
            if (v.Shape[d] == Dim.One) continue;
            if (stride is null)
            {
                stride = v.Strides[d];
            }
            else if (v.Strides[d] != stride * span)
            {
                return null;
            }

            span *= v.Shape[d];
        }

        return stride ?? (count > 0 ? v.Strides[count - 1] : Dim.One);
    }
}
