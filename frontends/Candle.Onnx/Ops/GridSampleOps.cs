using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// GridSample (2-d and, from opset 20, n-d) composed of elementwise coordinate math and gathers: each grid point's
/// coordinates are unnormalized per spatial axis (align_corners), rounded half to even for nearest, clamped (border) or
/// reflected (reflection) when outside the borders; the taps (1 nearest, 2 linear, 4 cubic with Keys' a = −0.75 per
/// axis) are fetched from the flattened input with one gather per tap combination, out-of-range taps reading zero
/// (zeros), the clamped index (border) or the reflected index (reflection), and summed with the product of their
/// weights, as ONNX's reference defines.
/// </summary>
internal static class GridSampleOps
{
    private const double CubicA = -0.75;

    public static void Register(Dictionary<string, OpImporter> t) => t["GridSample"] = GridSample;

    private enum Mode
    {
        Nearest,
        Linear,
        Cubic,
    }

    private static OnnxValue[] GridSample(NodeImport n)
    {
        Node x = n.Input(0), grid = n.Input(1);
        int s = x.Shape.Rank - 2;
        if (s < 1 || grid.Shape.Rank != s + 2 || grid.Shape[^1].TryGetConstant() != s) throw n.Import($"needs X [N, C, ...] and grid [N, ..., {Math.Max(s, 1)}] of matching rank, got {x.Shape} and {grid.Shape}");
        if (s != 2 && n.Opset < 20) throw n.Import($"needs a 4-d X before opset 20, got {x.Shape}");
        if (!x.DType.IsFloat() || !grid.DType.IsFloat()) throw n.Import($"needs float X and grid, got {x.DType.TorchName()} and {grid.DType.TorchName()}");
        string modeName = n.Attrs.String("mode", n.Opset < 20 ? "bilinear" : "linear");
        var mode = modeName switch
        {
            "nearest" => Mode.Nearest,
            "bilinear" or "linear" => Mode.Linear,
            "bicubic" or "cubic" => Mode.Cubic,
            _ => throw n.Import($"mode '{modeName}' is not defined"),
        };
        string padding = n.Attrs.String("padding_mode", "zeros");
        if (padding is not ("zeros" or "border" or "reflection")) throw n.Import($"padding_mode '{padding}' is not defined");
        bool alignCorners = n.Attrs.Int("align_corners", 0) != 0;

        var size = new long[s];
        for (int i = 0; i < s; i++) size[i] = x.Shape[2 + i].TryGetConstant() ?? throw n.Import($"needs constant spatial sizes, got {x.Shape}");
        Dim batch = x.Shape[0], channels = x.Shape[1];
        var outDims = grid.Shape.Skip(1).Take(s).ToArray();
        Dim points = outDims.Aggregate(Dim.One, (a, b) => a * b);
        var flatX = Reshape(x, new Shape([batch, channels, Dim.Of(size.Aggregate(1L, (a, b) => a * b))]));
        var dt = grid.DType;

        // Per spatial axis: the taps (index as float, weight or null) of every grid point, [N, Q] each.
        var taps = new List<(Node Index, Node? Weight)>[s];
        for (int i = 0; i < s; i++)
        {
            var g = Reshape(Select(grid, s + 1, s - 1 - i), new Shape([grid.Shape[0], points]));
            double d = size[i];
            var coord = alignCorners
                ? Binary(Op.Mul, Binary(Op.Add, g, Scalar(1, dt)), Scalar((d - 1) / 2, dt))
                : Binary(Op.Div, Binary(Op.Sub, Binary(Op.Mul, Binary(Op.Add, g, Scalar(1, dt)), Scalar(d, dt)), Scalar(1, dt)), Scalar(2, dt));
            if (mode == Mode.Nearest) coord = Unary(Op.Round, coord);
            var (lo, hi) = alignCorners ? (0.0, d - 1) : (-0.5, d - 0.5);
            var outside = Binary(Op.LogicalOr, Binary(Op.Lt, coord, Scalar(lo, dt)), Binary(Op.Gt, coord, Scalar(hi, dt)));
            if (padding == "border") coord = Where(outside, Clamp(coord, 0, d - 1), coord);
            if (padding == "reflection") coord = Where(outside, Reflect(coord, lo, hi), coord);

            taps[i] = [];
            if (mode == Mode.Nearest)
            {
                taps[i].Add((coord, null));
                continue;
            }

            var floor = Unary(Op.Floor, coord);
            var frac = Binary(Op.Sub, coord, floor);
            if (mode == Mode.Linear)
            {
                taps[i].Add((floor, Binary(Op.Sub, Scalar(1, dt), frac)));
                taps[i].Add((Binary(Op.Add, floor, Scalar(1, dt)), frac));
                continue;
            }

            for (int k = -1; k <= 2; k++) taps[i].Add((Binary(Op.Add, floor, Scalar(k, dt)), CubicWeight(frac, k)));
        }

        Node? sum = null;
        int perAxis = taps[0].Count;
        long combos = (long)Math.Pow(perAxis, s);
        n.Expand(12 * combos, 0, $"composing {combos} interpolation taps");
        for (long combo = 0; combo < combos; combo++)
        {
            long rest = combo;
            Node? flat = null, weight = null, valid = null;
            long stride = 1;
            for (int i = s - 1; i >= 0; i--)
            {
                var (index, w) = taps[i][(int)(rest % perAxis)];
                rest /= perAxis;
                double d = size[i];
                if (padding == "zeros")
                {
                    var inside = Binary(Op.LogicalAnd, Binary(Op.Ge, index, Scalar(0, dt)), Binary(Op.Le, index, Scalar(d - 1, dt)));
                    valid = valid is null ? inside : Binary(Op.LogicalAnd, valid, inside);
                }
                else if (padding == "reflection")
                {
                    var (lo, hi) = alignCorners ? (0.0, d - 1) : (-0.5, d - 0.5);
                    index = Reflect(index, lo, hi);
                }

                // Truncation toward zero, as the reference's int(); the clamp keeps every gather in range.
                var at = Cast(Clamp(Cast(Cast(index, DType.I64), dt), 0, d - 1), DType.I64);
                at = stride == 1 ? at : Binary(Op.Mul, at, Scalar(stride, DType.I64));
                flat = flat is null ? at : Binary(Op.Add, flat, at);
                if (w is not null) weight = weight is null ? w : Binary(Op.Mul, weight, w);
                stride *= size[i];
            }

            var gathered = Gather(flatX, 2, Expand(Unsqueeze(flat!, 1), new Shape([batch, channels, points])));
            if (valid is not null) weight = weight is null ? Cast(valid, dt) : Where(valid, weight, Scalar(0, dt));
            var term = weight is null ? gathered : Binary(Op.Mul, gathered, Cast(Unsqueeze(weight, 1), x.DType));
            sum = sum is null ? term : Binary(Op.Add, sum, term);
        }

        return NodeImport.One(Reshape(sum!, new Shape([batch, channels, .. outDims])));
    }

    private static Node Clamp(Node v, double lo, double hi) =>
        Binary(Op.Minimum, Binary(Op.Maximum, v, Scalar(lo, v.DType)), Scalar(hi, v.DType));

    /// <summary>Reflects v by the borders until it lies within [lo, hi] (the reference's _gs_reflect).</summary>
    private static Node Reflect(Node v, double lo, double hi)
    {
        var dt = v.DType;
        double range = hi - lo;
        if (range <= 0) return Where(Binary(Op.Ne, v, v), v, Full(lo, dt, v.Shape));
        Node Fold(Node dx, bool fromLow)
        {
            var count = Unary(Op.Floor, Binary(Op.Div, dx, Scalar(range, dt)));
            var r = Binary(Op.Sub, dx, Binary(Op.Mul, count, Scalar(range, dt)));
            var even = Binary(Op.Eq, Binary(Op.Remainder, count, Scalar(2, dt)), Scalar(0, dt));
            var nearLow = Binary(Op.Add, Scalar(lo, dt), r);
            var nearHigh = Binary(Op.Sub, Scalar(hi, dt), r);
            return fromLow ? Where(even, nearLow, nearHigh) : Where(even, nearHigh, nearLow);
        }

        var below = Fold(Binary(Op.Sub, Scalar(lo, dt), v), fromLow: true);
        var above = Fold(Binary(Op.Sub, v, Scalar(hi, dt)), fromLow: false);
        return Where(Binary(Op.Lt, v, Scalar(lo, dt)), below, Where(Binary(Op.Gt, v, Scalar(hi, dt)), above, v));
    }

    /// <summary>Keys' cubic weight of the tap at offset <paramref name="k"/> (−1..2) from the floor, for fraction t.</summary>
    private static Node CubicWeight(Node t, int k)
    {
        var dt = t.DType;
        const double a = CubicA;

        // |distance| from the tap: 1 + t, t, 1 − t, 2 − t.
        var u = k switch
        {
            -1 => Binary(Op.Add, t, Scalar(1, dt)),
            0 => t,
            1 => Binary(Op.Sub, Scalar(1, dt), t),
            _ => Binary(Op.Sub, Scalar(2, dt), t),
        };
        if (k is 0 or 1)
        {
            // ((a + 2)·u − (a + 3))·u² + 1
            var inner = Binary(Op.Sub, Binary(Op.Mul, u, Scalar(a + 2, dt)), Scalar(a + 3, dt));
            return Binary(Op.Add, Binary(Op.Mul, Binary(Op.Mul, inner, u), u), Scalar(1, dt));
        }

        // ((a·u − 5a)·u + 8a)·u − 4a
        var p = Binary(Op.Sub, Binary(Op.Mul, u, Scalar(a, dt)), Scalar(5 * a, dt));
        p = Binary(Op.Add, Binary(Op.Mul, p, u), Scalar(8 * a, dt));
        return Binary(Op.Sub, Binary(Op.Mul, p, u), Scalar(4 * a, dt));
    }
}
