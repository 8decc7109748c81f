using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// RNN, GRU and LSTM unrolled over their (constant) sequence length: the input projections of every step as one
/// product, then per step the recurrent product, the gates and the state update, in each direction (forward, reverse,
/// or both stacked). Sequence lengths per batch entry mask the steps past each entry's end (the state is kept, the
/// output is zero), as the spec defines. Gate activations are ONNX's named functions with their alpha/beta; clip bounds
/// the gate inputs.
/// </summary>
internal static class RecurrentOps
{
    /// <summary>The most steps unrolled: each is a handful of nodes.</summary>
    private const long MaxSteps = 4096;

    /// <summary>About how many IR nodes one step of one direction adds (charged to the import budget).</summary>
    private const long NodesPerStep = 32;

    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["RNN"] = n => Run(n, Cell.Rnn);
        t["GRU"] = n => Run(n, Cell.Gru);
        t["LSTM"] = n => Run(n, Cell.Lstm);
    }

    private enum Cell
    {
        Rnn,
        Gru,
        Lstm,
    }

    private static OnnxValue[] Run(NodeImport n, Cell cell)
    {
        int gates = cell switch { Cell.Rnn => 1, Cell.Gru => 3, _ => 4 };
        var x = n.Input(0);
        if (x.Shape.Rank != 3) throw n.Import($"needs X of rank 3, got {x.Shape}");
        if (!x.DType.IsFloat()) throw n.Import($"needs a float X, got {x.DType.TorchName()}");
        bool batchFirst = n.Attrs.Int("layout", 0) != 0;
        if (batchFirst) x = Transpose(x, 0, 1);
        long steps = x.Shape[0].TryGetConstant() ?? throw n.Import($"needs a constant sequence length to unroll, got X {x.Shape}");
        if (steps > MaxSteps) throw n.Import($"sequence length {steps} is over the {MaxSteps} steps unrolled");
        string direction = n.Attrs.String("direction", "forward");
        int directions = direction switch
        {
            "forward" or "reverse" => 1,
            "bidirectional" => 2,
            _ => throw n.Import($"direction '{direction}' is not defined"),
        };
        long hidden = n.Attrs.Int("hidden_size", 0);
        var w = n.Input(1);
        var r = n.Input(2);
        if (w.Shape.Rank != 3 || r.Shape.Rank != 3) throw n.Import($"needs W and R of rank 3, got {w.Shape} and {r.Shape}");
        if (hidden <= 0) hidden = (r.Shape[2].TryGetConstant() ?? throw n.Import($"needs a constant hidden size, got R {r.Shape}"));
        if (w.Shape[0].TryGetConstant() != directions || w.Shape[1].TryGetConstant() != gates * hidden || r.Shape[1].TryGetConstant() != gates * hidden)
        {
            throw n.Import($"W {w.Shape} and R {r.Shape} must be [{directions}, {gates * hidden}, ...] for direction '{direction}' and hidden_size {hidden}");
        }

        if (cell == Cell.Lstm && n.Attrs.Int("input_forget", 0) != 0) throw n.Import("input_forget=1 is not supported");
        n.Expand(directions * steps * NodesPerStep, 0, $"unrolling {steps} steps in {directions} direction(s)");
        var activations = Activations(n, cell, directions);
        double? clip = n.Attrs.Has("clip") ? n.Attrs.Float("clip", 0) : null;
        bool linearBeforeReset = n.Attrs.Int("linear_before_reset", 0) != 0;
        var dtype = x.DType;
        var batch = x.Shape[1];
        Node? lens = n.OptionalInput(4) is { } l ? Cast(Reshape(l, new Shape([batch, Dim.One])), DType.I64) : null;

        var ys = new List<Node>();
        var hs = new List<Node>();
        var cs = new List<Node>();
        for (int d = 0; d < directions; d++)
        {
            bool reverse = direction == "reverse" || d == 1;
            var wd = Select(w, 0, d);
            var rt = Transpose(Select(r, 0, d), 0, 1);
            var xw = MatMul(x, Transpose(wd, 0, 1)); // [T, B, gates·H]
            Node? rbh = null; // GRU's Rbh, which linear_before_reset moves inside the reset product
            if (n.OptionalInput(3) is { } b)
            {
                var bd = Select(b, 0, d);
                var wb = Narrow(bd, 0, Dim.Zero, Dim.Of(gates * hidden));
                var rb = Narrow(bd, 0, Dim.Of(gates * hidden), Dim.Of(gates * hidden));
                xw = Binary(Op.Add, xw, Binary(Op.Add, wb, rb));
                if (cell == Cell.Gru && linearBeforeReset) rbh = Gate(rb, 2, hidden);
            }

            Node? peep = cell == Cell.Lstm && n.OptionalInput(7) is { } p ? Select(p, 0, d) : null;
            var h = n.OptionalInput(5) is { } h0 ? Select(h0, 0, d) : Full(0, dtype, new Shape([batch, Dim.Of(hidden)]));
            var c = cell == Cell.Lstm && n.OptionalInput(6) is { } c0 ? Select(c0, 0, d) : Full(0, dtype, new Shape([batch, Dim.Of(hidden)]));
            var outputs = new Node[steps];
            for (long i = 0; i < steps; i++)
            {
                long step = reverse ? steps - 1 - i : i;
                var xt = Select(xw, 0, step);
                var rec = MatMul(h, rt);
                Node hNew, cNew = c;
                var act = activations[d];
                switch (cell)
                {
                    case Cell.Rnn:
                        hNew = act[0](Clip(Binary(Op.Add, xt, rec), clip));
                        break;
                    case Cell.Gru:
                    {
                        var (xz, xr, xh) = (Gate(xt, 0, hidden), Gate(xt, 1, hidden), Gate(xt, 2, hidden));
                        var z = act[0](Clip(Binary(Op.Add, xz, Gate(rec, 0, hidden)), clip));
                        var reset = act[0](Clip(Binary(Op.Add, xr, Gate(rec, 1, hidden)), clip));
                        Node candidate;
                        if (linearBeforeReset)
                        {
                            var rh = Gate(rec, 2, hidden);
                            if (rbh is not null) (xh, rh) = (Binary(Op.Sub, xh, rbh), Binary(Op.Add, rh, rbh));
                            candidate = Binary(Op.Add, xh, Binary(Op.Mul, reset, rh));
                        }
                        else
                        {
                            var rh = MatMul(Binary(Op.Mul, reset, h), Narrow(rt, 1, Dim.Of(2 * hidden), Dim.Of(hidden)));
                            candidate = Binary(Op.Add, xh, rh);
                        }

                        var hc = act[1](Clip(candidate, clip));
                        hNew = Binary(Op.Add, Binary(Op.Mul, Binary(Op.Sub, Scalar(1, dtype), z), hc), Binary(Op.Mul, z, h));
                        break;
                    }

                    default:
                    {
                        var pre = Binary(Op.Add, xt, rec);
                        Node gi = Gate(pre, 0, hidden), go = Gate(pre, 1, hidden), gf = Gate(pre, 2, hidden), gc = Gate(pre, 3, hidden);
                        if (peep is not null)
                        {
                            gi = Binary(Op.Add, gi, Binary(Op.Mul, Gate(peep, 0, hidden), c));
                            gf = Binary(Op.Add, gf, Binary(Op.Mul, Gate(peep, 2, hidden), c));
                        }

                        var it = act[0](Clip(gi, clip));
                        var ft = act[0](Clip(gf, clip));
                        var ct = act[1](Clip(gc, clip));
                        cNew = Binary(Op.Add, Binary(Op.Mul, ft, c), Binary(Op.Mul, it, ct));
                        if (peep is not null) go = Binary(Op.Add, go, Binary(Op.Mul, Gate(peep, 1, hidden), cNew));
                        var ot = act[0](Clip(go, clip));
                        hNew = Binary(Op.Mul, ot, act[2](cNew));
                        break;
                    }
                }

                if (lens is not null)
                {
                    var live = Binary(Op.Lt, Scalar(step, DType.I64), lens); // [B, 1]
                    outputs[step] = Where(live, hNew, Scalar(0, dtype));
                    h = Where(live, hNew, h);
                    c = Where(live, cNew, c);
                }
                else
                {
                    outputs[step] = hNew;
                    (h, c) = (hNew, cNew);
                }
            }

            ys.Add(Stack(outputs, 0)); // [T, B, H]
            hs.Add(h);
            cs.Add(c);
        }

        var y = Stack(ys, 1); // [T, D, B, H]
        var yh = Stack(hs, 0); // [D, B, H]
        var yc = Stack(cs, 0);
        if (batchFirst)
        {
            y = Permute(y, 2, 0, 1, 3); // [B, T, D, H]
            yh = Transpose(yh, 0, 1);
            yc = Transpose(yc, 0, 1);
        }

        return cell == Cell.Lstm ? [new OnnxValue(y), new OnnxValue(yh), new OnnxValue(yc)] : [new OnnxValue(y), new OnnxValue(yh)];
    }

    /// <summary>Gate <paramref name="k"/> (hidden wide) of a [.., gates·H] tensor.</summary>
    private static Node Gate(Node x, int k, long hidden) => Narrow(x, x.Shape.Rank - 1, Dim.Of(k * hidden), Dim.Of(hidden));

    private static Node Clip(Node x, double? clip) =>
        clip is not { } c ? x : Binary(Op.Minimum, Binary(Op.Maximum, x, Scalar(-c, x.DType)), Scalar(c, x.DType));

    /// <summary>The activation functions per direction (f; f, g; f, g, h), with ONNX's defaults.</summary>
    private static Func<Node, Node>[][] Activations(NodeImport n, Cell cell, int directions)
    {
        string[] defaults = cell switch { Cell.Rnn => ["Tanh"], Cell.Gru => ["Sigmoid", "Tanh"], _ => ["Sigmoid", "Tanh", "Tanh"] };
        var names = n.Proto.Attribute.FirstOrDefault(a => a.Name == "activations") is { } attr
            ? attr.Strings.Select(s => s.ToStringUtf8()).ToArray()
            : [.. Enumerable.Range(0, directions).SelectMany(_ => defaults)];
        if (names.Length != defaults.Length * directions) throw n.Import($"activations has {names.Length} entries, expected {defaults.Length * directions}");
        var alphas = n.Attrs.Floats("activation_alpha") ?? [];
        var betas = n.Attrs.Floats("activation_beta") ?? [];
        int ai = 0, bi = 0;
        var result = new Func<Node, Node>[directions][];
        for (int d = 0; d < directions; d++)
        {
            result[d] = new Func<Node, Node>[defaults.Length];
            for (int k = 0; k < defaults.Length; k++) result[d][k] = Activation(n, names[(d * defaults.Length) + k], alphas, betas, ref ai, ref bi);
        }

        return result;
    }

    private static Func<Node, Node> Activation(NodeImport n, string name, float[] alphas, float[] betas, ref int ai, ref int bi)
    {
        double Next(float[] list, ref int i, double fallback) => i < list.Length ? list[i++] : fallback;
        switch (name.ToLowerInvariant())
        {
            case "tanh": return x => Unary(Op.Tanh, x);
            case "sigmoid": return x => Unary(Op.Sigmoid, x);
            case "relu": return x => Unary(Op.Relu, x);
            case "softsign": return x => Binary(Op.Div, x, Binary(Op.Add, Unary(Op.Abs, x), Scalar(1, x.DType)));
            case "softplus": return x => Unary(Op.Log, Binary(Op.Add, Unary(Op.Exp, x), Scalar(1, x.DType)));
            case "leakyrelu":
            {
                double a = Next(alphas, ref ai, 0.01);
                return x => Where(Binary(Op.Lt, x, Scalar(0, x.DType)), Binary(Op.Mul, x, Scalar(a, x.DType)), x);
            }

            case "thresholdedrelu":
            {
                double a = Next(alphas, ref ai, 1.0);
                return x => Where(Binary(Op.Gt, x, Scalar(a, x.DType)), x, Scalar(0, x.DType));
            }

            case "elu":
            {
                double a = Next(alphas, ref ai, 1.0);
                return x => Where(Binary(Op.Lt, x, Scalar(0, x.DType)), Binary(Op.Mul, Binary(Op.Sub, Unary(Op.Exp, x), Scalar(1, x.DType)), Scalar(a, x.DType)), x);
            }

            case "hardsigmoid":
            {
                double a = Next(alphas, ref ai, 0.2), b = Next(betas, ref bi, 0.5);
                return x => Binary(Op.Minimum, Binary(Op.Maximum, Binary(Op.Add, Binary(Op.Mul, x, Scalar(a, x.DType)), Scalar(b, x.DType)), Scalar(0, x.DType)), Scalar(1, x.DType));
            }

            case "affine":
            {
                double a = Next(alphas, ref ai, 1.0), b = Next(betas, ref bi, 0.0);
                return x => Binary(Op.Add, Binary(Op.Mul, x, Scalar(a, x.DType)), Scalar(b, x.DType));
            }

            case "scaledtanh":
            {
                double a = Next(alphas, ref ai, 1.0), b = Next(betas, ref bi, 1.0);
                return x => Binary(Op.Mul, Unary(Op.Tanh, Binary(Op.Mul, x, Scalar(b, x.DType))), Scalar(a, x.DType));
            }

            default:
                throw n.Import($"activation '{name}' is not supported");
        }
    }
}
