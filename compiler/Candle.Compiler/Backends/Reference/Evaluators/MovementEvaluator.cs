using Candle.Compiler.Ir;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>
/// Data movement without arithmetic: reshape, permute, expand, slice, flip (strided views, materialized),
/// concat, constant pad and nearest upsampling. Elements are copied bytewise, so every dtype is exact.
/// </summary>
internal static class MovementEvaluator
{
    public static HostTensor Evaluate(OpCall call)
    {
        var x = call[0];
        var inShape = call.Shape(0);
        var strides = Layout.Strides(inShape);
        switch (call.Op)
        {
            case Op.Reshape:
                return new HostTensor(x.DType, call.OutShape, x.Data.ToArray());

            case Op.Permute:
            {
                var perm = call.Attr<PermuteAttrs>().Perm;
                var s = new int[perm.Count];
                for (int i = 0; i < s.Length; i++) s[i] = strides[perm[i]];
                return View(call, s, 0);
            }

            case Op.Expand:
            {
                for (int d = 0; d < strides.Length; d++)
                {
                    if (inShape[d] == 1) strides[d] = 0;
                }

                return View(call, strides, 0);
            }

            case Op.Slice:
            {
                var a = call.Attr<SliceAttrs>();
                long start = a.Start.Evaluate(call.Bindings), end = a.End.Evaluate(call.Bindings);
                if (start < 0 || start > end || end > inShape[a.Axis])
                {
                    throw new ArgumentOutOfRangeException(
                        nameof(call), $"{call.Describe()}: slice [{start}:{end}] is out of range for dimension {a.Axis} of size {inShape[a.Axis]}");
                }

                int offset = checked((int)start * strides[a.Axis]);
                strides[a.Axis] *= a.Step;
                return View(call, strides, offset);
            }

            case Op.Flip:
            {
                int offset = 0;
                foreach (int d in call.Attr<AxesAttrs>().Axes)
                {
                    if (inShape[d] == 0) continue;
                    offset += (inShape[d] - 1) * strides[d];
                    strides[d] = -strides[d];
                }

                return View(call, strides, offset);
            }

            case Op.SliceScatter:
                return SliceScatter(call, inShape);
            case Op.Concat:
                return Concat(call);
            case Op.Pad:
                return Pad(call, inShape, strides);
            case Op.UpsampleNearest:
                return Upsample(call, strides);
            default:
                throw new InvalidOperationException($"{call.Describe()}: not a movement op");
        }
    }

    private static HostTensor View(OpCall call, int[] strides, int offset) =>
        ElementCopy.Take(call[0], call.OutShape, Layout.StridedMap(call.OutShape, strides, offset));

    private static HostTensor SliceScatter(OpCall call, int[] inShape)
    {
        var a = call.Attr<SliceAttrs>();
        long start = a.Start.Evaluate(call.Bindings), end = a.End.Evaluate(call.Bindings);
        var srcShape = call.Shape(1);
        int len = srcShape[a.Axis];
        if (start < 0 || start > end || end > inShape[a.Axis] || (end - start + a.Step - 1) / a.Step != len)
        {
            throw new ArgumentOutOfRangeException(
                nameof(call), $"{call.Describe()}: slice [{start}:{end}:{a.Step}] is out of range for dimension {a.Axis} of size {inShape[a.Axis]} or does not hold the source's {len} elements");
        }

        var result = new HostTensor(call.DType, call.OutShape, call[0].Data.ToArray());
        int outer = Layout.Numel(inShape[..a.Axis]);
        int inner = Layout.Numel(inShape[(a.Axis + 1)..]);
        for (int o = 0; o < outer; o++)
        {
            for (int j = 0; j < len; j++)
            {
                ElementCopy.Copy(call[1], ((o * len) + j) * inner, result, ((o * inShape[a.Axis]) + (int)start + (j * a.Step)) * inner, inner);
            }
        }

        return result;
    }

    private static HostTensor Concat(OpCall call)
    {
        int axis = call.Attr<AxisAttrs>().Axis;
        var outShape = call.OutShape;
        var result = HostTensor.Zeros(call.DType, outShape);
        int outer = Layout.Numel(outShape[..axis]);
        int inner = Layout.Numel(outShape[(axis + 1)..]);
        int outBlock = outShape[axis] * inner;
        int at = 0;
        foreach (var t in call.Inputs)
        {
            int block = t.Shape[axis] * inner;
            for (int o = 0; o < outer; o++) ElementCopy.Copy(t, o * block, result, (o * outBlock) + at, block);
            at += block;
        }

        return result;
    }

    private static HostTensor Pad(OpCall call, int[] inShape, int[] inStrides)
    {
        var a = call.Attr<PadAttrs>();
        var outShape = call.OutShape;
        var map = new int[call.OutCount];
        var idx = new int[outShape.Length];
        for (int i = 0; i < map.Length; i++)
        {
            Layout.Unravel(i, outShape, idx);
            int src = 0;
            for (int d = 0; d < idx.Length && src >= 0; d++)
            {
                int p = idx[d] - a.Before[d];
                src = p < 0 || p >= inShape[d] ? -1 : src + (p * inStrides[d]);
            }

            map[i] = src;
        }

        return ElementCopy.Take(call[0], outShape, map, a.Value);
    }

    private static HostTensor Upsample(OpCall call, int[] inStrides)
    {
        var scale = call.Attr<UpsampleAttrs>().Scale;
        var outShape = call.OutShape;
        var map = new int[call.OutCount];
        var idx = new int[outShape.Length];
        for (int i = 0; i < map.Length; i++)
        {
            Layout.Unravel(i, outShape, idx);
            int src = 0;
            for (int d = 0; d < idx.Length; d++)
            {
                int p = d < 2 ? idx[d] : idx[d] / scale[d - 2];
                src += p * inStrides[d];
            }

            map[i] = src;
        }

        return ElementCopy.Take(call[0], outShape, map);
    }
}
