using Candle.Compiler.Ir;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// CenterCropPad: along each listed axis, a centered window of the requested size is sliced from a larger input, or a
/// smaller input is centered in zeros (the odd element of a difference goes to the end), as ONNX's reference places them.
/// </summary>
internal static class CropOps
{
    public static void Register(Dictionary<string, OpImporter> t) => t["CenterCropPad"] = CenterCropPad;

    private static OnnxValue[] CenterCropPad(NodeImport n)
    {
        var x = n.Input(0);
        int rank = x.Shape.Rank;
        long[] sizes = n.ConstInts(1, "shape");
        int[] axes = n.Attrs.Ints("axes") is { } given ? [.. given.Select(a => n.Axis(a, rank, "axes entry"))] : [.. Enumerable.Range(0, rank)];
        if (sizes.Length != axes.Length) throw n.Import($"shape has {sizes.Length} entries for {axes.Length} axes");
        if (axes.Distinct().Count() != axes.Length) throw n.Import($"axes [{string.Join(", ", axes)}] repeat an axis");
        var y = x;
        var pad = new int[2 * rank];
        for (int i = 0; i < axes.Length; i++)
        {
            int a = axes[i];
            long size = sizes[i];
            long dim = x.Shape[a].TryGetConstant() ?? throw n.Import($"needs a constant size along axis {a}, got {x.Shape}");
            if (size < 0 || size > int.MaxValue) throw n.Import($"size {size} along axis {a} is out of range");
            if (size < dim)
            {
                y = Narrow(y, a, Dim.Of((dim - size) / 2), Dim.Of(size));
            }
            else if (size > dim)
            {
                long before = (size - dim) / 2;
                pad[2 * (rank - 1 - a)] = (int)before;
                pad[(2 * (rank - 1 - a)) + 1] = (int)(size - dim - before);
            }
        }

        return NodeImport.One(pad.Any(p => p != 0) ? Pad(y, pad) : y);
    }
}
