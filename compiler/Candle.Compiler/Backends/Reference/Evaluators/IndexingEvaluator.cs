using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>
/// Data-dependent indexing: index_select (numpy.take), gather and out-of-place scatter_add. Indices must lie in
/// [0, size); anything else raises an error naming the op, the index and the dimension size.
/// </summary>
internal static class IndexingEvaluator
{
    public static HostTensor Evaluate(OpCall call) => call.Op switch
    {
        Op.IndexSelect => IndexSelect(call),
        Op.Gather => Gather(call),
        Op.ScatterAdd => ScatterAdd(call),
        _ => throw new InvalidOperationException($"{call.Describe()}: not an indexing op"),
    };

    private static HostTensor IndexSelect(OpCall call)
    {
        int axis = call.Attr<AxisAttrs>().Axis;
        var xs = call.Shape(0);
        var index = TensorData.ReadLongs(call[1]);
        int n = xs[axis];
        int outer = Layout.Numel(xs[..axis]);
        int inner = Layout.Numel(xs[(axis + 1)..]);
        foreach (long v in index) Check(call, v, axis, n);
        var map = new int[call.OutCount];
        int k = 0;
        for (int o = 0; o < outer; o++)
        {
            foreach (long v in index)
            {
                int src = ((o * n) + (int)v) * inner;
                for (int i = 0; i < inner; i++) map[k++] = src + i;
            }
        }

        return ElementCopy.Take(call[0], call.OutShape, map);
    }

    private static HostTensor Gather(OpCall call)
    {
        int axis = call.Attr<AxisAttrs>().Axis;
        var xs = call.Shape(0);
        var ishape = call.Shape(1);
        CheckIndexShape(call, ishape, xs, axis, "input");
        var index = TensorData.ReadLongs(call[1]);
        var xStrides = Layout.Strides(xs);
        var idx = new int[ishape.Length];
        var map = new int[index.Length];
        for (int i = 0; i < index.Length; i++)
        {
            Layout.Unravel(i, ishape, idx);
            Check(call, index[i], axis, xs[axis]);
            idx[axis] = (int)index[i];
            map[i] = Offset(idx, xStrides);
        }

        return ElementCopy.Take(call[0], call.OutShape, map);
    }

    private static HostTensor ScatterAdd(OpCall call)
    {
        int axis = call.Attr<AxisAttrs>().Axis;
        var xs = call.Shape(0);
        var ishape = call.Shape(1);
        var ss = call.Shape(2);
        CheckIndexShape(call, ishape, xs, axis, "input");
        CheckIndexShape(call, ishape, ss, -1, "source");
        var index = TensorData.ReadLongs(call[1]);
        var xStrides = Layout.Strides(xs);
        var sStrides = Layout.Strides(ss);
        var idx = new int[ishape.Length];
        var dst = new int[index.Length];
        var src = new int[index.Length];
        for (int i = 0; i < index.Length; i++)
        {
            Layout.Unravel(i, ishape, idx);
            Check(call, index[i], axis, xs[axis]);
            src[i] = Offset(idx, sStrides);
            idx[axis] = (int)index[i];
            dst[i] = Offset(idx, xStrides);
        }

        if (call.DType.IsFloat())
        {
            var r = TensorData.ReadDoubles(call[0]);
            var s = TensorData.ReadDoubles(call[2]);
            for (int i = 0; i < dst.Length; i++) r[dst[i]] += s[src[i]];
            return call.Result(r);
        }

        var l = TensorData.ReadLongs(call[0]);
        var t = TensorData.ReadLongs(call[2]);
        for (int i = 0; i < dst.Length; i++) l[dst[i]] = unchecked(l[dst[i]] + t[src[i]]);
        return call.Result(l);
    }

    private static int Offset(int[] idx, int[] strides)
    {
        int o = 0;
        for (int d = 0; d < idx.Length; d++) o += idx[d] * strides[d];
        return o;
    }

    private static void Check(OpCall call, long v, int axis, int size)
    {
        if (v < 0 || v >= size) throw call.IndexError(v, axis, size);
    }

    private static void CheckIndexShape(OpCall call, int[] index, int[] other, int exceptAxis, string what)
    {
        for (int d = 0; d < index.Length; d++)
        {
            if (d != exceptAxis && index[d] > other[d])
            {
                throw new ArgumentException(
                    $"{call.Describe()}: index size {index[d]} exceeds the {what} size {other[d]} in dimension {d}");
            }
        }
    }
}
