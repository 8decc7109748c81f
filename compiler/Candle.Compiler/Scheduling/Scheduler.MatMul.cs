using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

internal sealed partial class Scheduler
{
    /// <summary>
    /// Schedules a matmul. float32 products whose right operand is one matrix for every batch (a weight, broadcast by
    /// expands or size-1 batch dims) fold the batch dims into rows and become one 2-d <see cref="GemmCall"/>, with an
    /// optional epilogue (a bfloat16 weight whose cast was deferred stays bfloat16 in B, see
    /// <see cref="TensorView.StoredDType"/>); other products are <see cref="BatchedMatMulCall"/>s over strided operands.
    /// </summary>
    /// <param name="node">The matmul.</param>
    /// <param name="ins">Its operands.</param>
    /// <param name="epilogue">Builds the epilogue for the dense result slot, or returns null; only 2-d GEMMs take one.</param>
    /// <param name="fused">Whether the epilogue was fused (false: the caller applies it itself).</param>
    private TensorView ScheduleMatMul(Node node, TensorView[] ins, Func<int, ElementwiseCall?>? epilogue, out bool fused)
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
            var epi = epilogue?.Invoke(y.Slot);
            bool weight = _kg.KindOf(b.Slot) == Runtime.Plans.BufferKind.Weight;
            _kg.Add(new GemmCall(a, rowStride, b, y.Slot, Prod(a.Shape.Take(r - 1)), n, k, weight, epi, epi is null ? "matmul" : "matmul + epilogue"));
            fused = epi is not null;
            return y;
        }

        var batched = NewOutput(node);
        _kg.Add(new BatchedMatMulCall(a, b, batched.Slot, node.DType, m, n, k, [.. node.Shape.Take(br)], "matmul"));
        return batched;
    }

    /// <summary>True when a kernel can pack <paramref name="b"/> when the plan is created: static offset, strides and size.</summary>
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
