using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// LayerNormalization onto the IR's layer norm (with its optional Mean and InvStdDev outputs composed),
/// InstanceNormalization onto group norm with one group per channel, GroupNormalization onto group norm, BatchNormalization (inference and training mode), MeanVarianceNormalization, LpNormalization and LRN composed.
/// </summary>
internal static class NormOps
{
    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["LayerNormalization"] = LayerNormalization;
        t["RMSNormalization"] = RmsNormalization;
        t["InstanceNormalization"] = n =>
        {
            var x = n.Input(0);
            if (x.Shape.Rank < 3 || x.Shape[1].TryGetConstant() is not long c) throw n.Import($"needs X [N, C, ...] with a constant C, got {x.Shape}");
            return NodeImport.One(GroupNorm(x, checked((int)c), n.Input(1), n.Input(2), n.Attrs.Float("epsilon", 1e-5)));
        };
        t["BatchNormalization"] = BatchNormalization;
        t["GroupNormalization"] = GroupNormalization;
        t["MeanVarianceNormalization"] = n =>
        {
            var x = n.Input(0);
            long[] axes = n.Attrs.Ints("axes") ?? [0, 2, 3];
            int[] norm = [.. axes.Select(a => n.Axis(a, x.Shape.Rank, "axes entry"))];
            var mean = Reduce(Op.Mean, x, norm, keepDim: true);
            var centered = Binary(Op.Sub, x, mean);
            var variance = Reduce(Op.Mean, Binary(Op.Mul, centered, centered), norm, keepDim: true);
            return NodeImport.One(Binary(Op.Div, centered, Binary(Op.Add, Unary(Op.Sqrt, variance), Scalar(1e-9, x.DType))));
        };
        t["LRN"] = n =>
        {
            // y = x / (bias + α/size · Σ x²)^β, the sum over the channels [c − ⌊(size−1)/2⌋, c + ⌈(size−1)/2⌉].
            var x = n.Input(0);
            long size = n.Attrs.Int("size");
            if (x.Shape.Rank < 3) throw n.Import($"needs X [N, C, ...], got {x.Shape}");
            if (size < 1 || size > 64) throw n.Import($"size {size} must be in [1, 64]");
            double alpha = n.Attrs.Float("alpha", 1e-4), beta = n.Attrs.Float("beta", 0.75), bias = n.Attrs.Float("bias", 1);
            int before = (int)((size - 1) / 2), after = (int)(size - 1 - before);
            var pad = new int[2 * x.Shape.Rank];
            pad[(2 * (x.Shape.Rank - 2))] = before;
            pad[(2 * (x.Shape.Rank - 2)) + 1] = after;
            var padded = Pad(Binary(Op.Mul, x, x), pad);
            Node? sum = null;
            for (int i = 0; i < size; i++)
            {
                var part = Narrow(padded, 1, Dim.Of(i), x.Shape[1]);
                sum = sum is null ? part : Binary(Op.Add, sum, part);
            }

            var denominator = Binary(Op.Pow, Binary(Op.Add, Binary(Op.Mul, sum!, Scalar(alpha / size, x.DType)), Scalar(bias, x.DType)), Scalar(beta, x.DType));
            return NodeImport.One(Binary(Op.Div, x, denominator));
        };
        t["LpNormalization"] = n =>
        {
            var x = n.Input(0);
            int axis = n.Axis(n.Attrs.Int("axis", -1), x.Shape.Rank);
            long p = n.Attrs.Int("p", 2);
            var norm = p switch
            {
                1 => Reduce(Op.Sum, Unary(Op.Abs, x), [axis], keepDim: true),
                2 => Unary(Op.Sqrt, Reduce(Op.Sum, Binary(Op.Mul, x, x), [axis], keepDim: true)),
                _ => throw n.Import($"p={p} is not defined (1 or 2)"),
            };
            // A zero norm leaves zeros (the spec's reference divides only where the norm is nonzero).
            var zero = Binary(Op.Eq, norm, Scalar(0, norm.DType));
            return NodeImport.One(Where(zero, Scalar(0, x.DType), Binary(Op.Div, x, Where(zero, Scalar(1, norm.DType), norm))));
        };
    }

    private static OnnxValue[] LayerNormalization(NodeImport n)
    {
        var x = n.Input(0);
        int rank = x.Shape.Rank;
        int axis = n.Axis(n.Attrs.Int("axis", -1), rank);
        double eps = n.Attrs.Float("epsilon", 1e-5);
        if (n.Attrs.Int("stash_type", 1) != 1) throw n.Import($"stash_type={n.Attrs.Int("stash_type", 1)} is not supported");
        var normShape = new Shape(x.Shape.Skip(axis));
        var xf = Cast(x, DType.F32);
        var scale = BroadcastTo(Cast(n.Input(1), DType.F32), normShape);
        var bias = n.OptionalInput(2) is { } b ? BroadcastTo(Cast(b, DType.F32), normShape) : null;
        var y = Cast(LayerNorm(xf, scale, bias, eps, rank - axis), x.DType);
        if (n.OutputCount <= 1) return NodeImport.One(y);

        var axes = Enumerable.Range(axis, rank - axis).ToArray();
        var mean = Reduce(Op.Mean, xf, axes, keepDim: true);
        var centered = Binary(Op.Sub, xf, mean);
        var variance = Reduce(Op.Mean, Binary(Op.Mul, centered, centered), axes, keepDim: true);
        var invStd = Unary(Op.Rsqrt, Binary(Op.Add, variance, Scalar(eps, DType.F32)));
        return [new OnnxValue(y), new OnnxValue(mean), new OnnxValue(invStd)];
    }

    /// <summary>RMSNormalization (opset 23): x / √(mean(x²) + ε) · scale over the axes from <c>axis</c> on, in float32.</summary>
    private static OnnxValue[] RmsNormalization(NodeImport n)
    {
        var x = n.Input(0);
        int rank = x.Shape.Rank;
        int axis = n.Axis(n.Attrs.Int("axis", -1), rank);
        double eps = n.Attrs.Float("epsilon", 1e-5);
        if (n.Attrs.Int("stash_type", 1) != 1) throw n.Import($"stash_type={n.Attrs.Int("stash_type", 1)} is not supported");
        var xf = Cast(x, DType.F32);
        var meanSquare = Reduce(Op.Mean, Binary(Op.Mul, xf, xf), Enumerable.Range(axis, rank - axis), keepDim: true);
        var normalized = Binary(Op.Mul, xf, Unary(Op.Rsqrt, Binary(Op.Add, meanSquare, Scalar(eps, DType.F32))));
        return NodeImport.One(Cast(Binary(Op.Mul, normalized, Cast(n.Input(1), DType.F32)), x.DType));
    }

    /// <summary>GroupNormalization: scale and bias per group at opset 18, per channel since opset 21.</summary>
    private static OnnxValue[] GroupNormalization(NodeImport n)
    {
        var x = n.Input(0);
        long groups = n.Attrs.Int("num_groups");
        if (x.Shape.Rank < 3 || x.Shape[1].TryGetConstant() is not long c) throw n.Import($"needs X [N, C, ...] with a constant C, got {x.Shape}");
        if (groups < 1 || c % groups != 0) throw n.Import($"num_groups {groups} does not divide {c} channels");
        if (n.Attrs.Int("stash_type", 1) != 1) throw n.Import($"stash_type={n.Attrs.Int("stash_type", 1)} is not supported");
        Node PerChannel(Node p)
        {
            if (p.Shape.Rank == 1 && p.Shape[0] == Dim.Of(c)) return p;
            if (p.Shape.Rank != 1 || p.Shape[0] != Dim.Of(groups)) throw n.Import($"scale and bias must have {groups} (per group) or {c} (per channel) values, got {p.Shape}");
            return Reshape(BroadcastTo(Reshape(p, new Shape(groups, 1)), new Shape(groups, c / groups)), new Shape(c));
        }

        var xf = Cast(x, DType.F32);
        var y = GroupNorm(xf, checked((int)groups), Cast(PerChannel(n.Input(1)), DType.F32), Cast(PerChannel(n.Input(2)), DType.F32), n.Attrs.Float("epsilon", 1e-5));
        return NodeImport.One(Cast(y, x.DType));
    }

    /// <summary>
    /// BatchNormalization: with the given mean and variance (inference), or in training mode (opset 14+) with the batch's
    /// own mean and population variance over every axis but the channels, returning the running statistics updated with
    /// momentum as its second and third outputs.
    /// </summary>
    private static OnnxValue[] BatchNormalization(NodeImport n)
    {
        bool training = n.Attrs.Int("training_mode", 0) != 0;
        if (n.OutputCount > 1 && !(training && n.Opset >= 14)) throw n.Import($"the running statistics outputs need training_mode=1 (opset 14 or later); opset {n.Opset}, training_mode={(training ? 1 : 0)}");
        var x = n.Input(0);
        if (x.Shape.Rank < 2) throw n.Import($"needs X [N, C, ...], got {x.Shape}");
        double eps = n.Attrs.Float("epsilon", 1e-5);
        var channel = new Shape(new[] { x.Shape[1] }.Concat(Enumerable.Repeat(Dim.One, x.Shape.Rank - 2)));
        Node P(int i) => Reshape(Cast(n.Input(i), x.DType), channel);
        Node mean = P(3), variance = P(4);
        if (training)
        {
            int[] axes = [0, .. Enumerable.Range(2, x.Shape.Rank - 2)];
            mean = Reduce(Op.Mean, x, axes, keepDim: true);
            var centered = Binary(Op.Sub, x, mean);
            variance = Reduce(Op.Mean, Binary(Op.Mul, centered, centered), axes, keepDim: true);
        }

        var inv = Unary(Op.Rsqrt, Binary(Op.Add, variance, Scalar(eps, x.DType)));
        var y = Binary(Op.Add, Binary(Op.Mul, Binary(Op.Mul, Binary(Op.Sub, x, mean), inv), P(1)), P(2));
        if (!training) return NodeImport.One(y);
        double momentum = n.Attrs.Float("momentum", 0.9);
        Node Running(int i, Node current) => Cast(Binary(Op.Add,
            Binary(Op.Mul, Cast(n.Input(i), x.DType), Scalar(momentum, x.DType)),
            Binary(Op.Mul, Reshape(current, n.Input(i).Shape), Scalar(1 - momentum, x.DType))), n.Input(i).DType);
        return [new OnnxValue(y), new OnnxValue(Running(3, mean)), new OnnxValue(Running(4, variance))];
    }
}
