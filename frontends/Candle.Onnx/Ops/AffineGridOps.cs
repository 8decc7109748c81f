using Candle.Compiler.Ir;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// AffineGrid (opset 20): the positions of a (D,) H, W grid evenly spaced over [−1, 1] along each axis (pixel centers
/// at −1 and 1 with align_corners, else the corner pixels' outer edges), in homogeneous form (x, y[, z], 1) as a constant
/// computed at import, times each batch entry's affine matrix θ transposed: grid [N, (D,) H, W, 2 or 3].
/// </summary>
internal static class AffineGridOps
{
    public static void Register(Dictionary<string, OpImporter> t) => t["AffineGrid"] = AffineGrid;

    private static OnnxValue[] AffineGrid(NodeImport n)
    {
        var theta = n.Input(0);
        long[] size = n.ConstInts(1, "size");
        int s = size.Length - 2;
        if (s is not (2 or 3)) throw n.Import($"size must be (N, C, H, W) or (N, C, D, H, W), got [{string.Join(", ", size)}]");
        if (theta.Shape.Rank != 3 || theta.Shape[1].TryGetConstant() != s || theta.Shape[2].TryGetConstant() != s + 1)
        {
            throw n.Import($"theta must be [N, {s}, {s + 1}] for a {s}-d grid, got {theta.Shape}");
        }

        if (size.Skip(2).Any(d => d < 1 || d > int.MaxValue)) throw n.Import($"the spatial sizes must be positive, got [{string.Join(", ", size)}]");
        bool align = n.Attrs.Int("align_corners", 0) != 0;
        long[] spatial = size[2..];
        long points = spatial.Aggregate(1L, (a, b) => a * b);
        n.Expand(0, points * (s + 1), $"a grid of {points} positions");

        // Row p = (x, y[, z], 1) with x along the last spatial axis (W), y along H, z along D.
        var basePositions = new double[points * (s + 1)];
        for (long p = 0; p < points; p++)
        {
            long rest = p;
            for (int axis = s - 1; axis >= 0; axis--)
            {
                long length = spatial[axis], i = rest % length;
                rest /= length;
                double v = align ? (length == 1 ? -1 : -1 + (2.0 * i / (length - 1))) : ((2.0 * i) + 1) / length - 1;
                basePositions[(p * (s + 1)) + (s - 1 - axis)] = v;
            }

            basePositions[(p * (s + 1)) + s] = 1;
        }

        var grid = Constant(HostTensor.FromDoubles(theta.DType, basePositions, 1, (int)points, s + 1));
        var y = MatMul(Expand(grid, new Shape([theta.Shape[0], Dim.Of(points), Dim.Of(s + 1)])), Transpose(theta, 1, 2));
        return NodeImport.One(Reshape(y, new Shape([theta.Shape[0], .. spatial.Select(Dim.Of), Dim.Of(s)])));
    }
}
