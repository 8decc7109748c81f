using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Autodiff.Rules.Grad;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Autodiff.Rules;

/// <summary>
/// Rules of the leaves and random_uniform (none) and the movement and indexing ops: each view's adjoint is the inverse view (reshape
/// back, inverse permutation, sum over expanded axes, slice-scatter into zeros, flip), concat and pad slice the
/// gradient, and the gathers and scatters are each other's adjoints (index_select and gather scatter-add the
/// gradient into zeros; scatter_add gathers it). Index tensors pass no gradient.
/// </summary>
internal static class MovementVjps
{
    public static void Register(VjpTable.Registry t)
    {
        t.None(Op.Input, Op.Constant, Op.Full, Op.Arange, Op.QuantConstant, Op.QuantEmbedding, Op.RandomUniform);
        t.Add(Op.QuantMatMul, (n, g) => [MatMul(g, n.Inputs[1]), null]);
        t.Add(Op.Reshape, (n, g) => [Reshape(g, n.Inputs[0].Shape)]);
        t.Add(Op.Permute, (n, g) =>
        {
            var perm = n.Attr<PermuteAttrs>().Perm;
            var inverse = new int[perm.Count];
            for (int i = 0; i < perm.Count; i++) inverse[perm[i]] = i;
            return [TransposedProduct(g, perm) ?? Permute(g, inverse)];
        });
        t.Add(Op.Expand, (n, g) => [SumTo(g, n.Inputs[0].Shape)]);
        t.Add(Op.Slice, (n, g) => [Node.Create(Op.SliceScatter, n.Attrs, Zeros(n.Inputs[0]), g)]);
        t.Add(Op.Concat, (n, g) =>
        {
            int axis = n.Attr<AxisAttrs>().Axis;
            var result = new Node?[n.Inputs.Length];
            Dim offset = Dim.Zero;
            for (int i = 0; i < result.Length; i++)
            {
                var len = n.Inputs[i].Shape[axis];
                result[i] = Narrow(g, axis, offset, len);
                offset += len;
            }

            return result;
        });
        t.Add(Op.Pad, (n, g) =>
        {
            var a = n.Attr<PadAttrs>();
            var x = n.Inputs[0];
            var r = g;
            for (int i = 0; i < x.Shape.Rank; i++) r = Narrow(r, i, a.Before[i], x.Shape[i]);
            return [r];
        });
        t.Add(Op.Flip, (n, g) => [Flip(g, [.. n.Attr<AxesAttrs>().Axes])]);
        t.Add(Op.IndexSelect, (n, g) =>
        {
            var (x, idx) = (n.Inputs[0], n.Inputs[1]);
            int axis = n.Attr<AxisAttrs>().Axis;
            var pre = x.Shape.Take(axis).ToArray();
            var post = x.Shape.Skip(axis + 1).ToArray();
            var count = idx.Shape.Numel;
            var flat = Reshape(g, new Shape([.. pre, count, .. post]));
            var ones = (Func<int, Dim[]>)(k => [.. Enumerable.Repeat(Dim.One, k)]);
            var index = Expand(Reshape(idx, new Shape([.. ones(pre.Length), count, .. ones(post.Length)])), flat.Shape);
            return [ScatterAdd(Zeros(x), axis, index, flat), null];
        });
        t.Add(Op.Gather, (n, g) =>
        {
            var (x, idx) = (n.Inputs[0], n.Inputs[1]);
            return [ScatterAdd(Zeros(x), n.Attr<AxisAttrs>().Axis, idx, g), null];
        });
        t.Add(Op.SliceScatter, (n, g) =>
        {
            var src = n.Inputs[1];
            return [Node.Create(Op.SliceScatter, n.Attrs, g, Zeros(src)), Node.Create(Op.Slice, n.Attrs, g)];
        });
        t.Add(Op.ScatterAdd, (n, g) =>
        {
            var (idx, src) = (n.Inputs[1], n.Inputs[2]);
            var gathered = Gather(g, n.Attr<AxisAttrs>().Axis, idx);
            if (!gathered.Shape.Equals(src.Shape))
            {
                // Source elements beyond the index's extent are not scattered: they get zeros.
                var after = src.Shape.Select((d, i) => (int)((d - idx.Shape[i]).TryGetConstant()
                    ?? throw new NotSupportedException($"autodiff: scatter_add with an index smaller than its source needs constant shapes, got {idx.Shape} and {src.Shape}"))).ToArray();
                gathered = Node.Create(Op.Pad, new PadAttrs(new int[after.Length], after, 0), gathered);
            }

            return [g, null, gathered];
        });
    }
}
