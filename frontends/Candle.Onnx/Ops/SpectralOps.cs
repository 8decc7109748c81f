using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// DFT and STFT as products with constant cosine and sine matrices (the transform length is known at import): the
/// signal axis moved last, real and imaginary parts multiplied by [n, bins] matrices computed in float64, the parts
/// stacked as ONNX's trailing [.., 2]. dft_length truncates or zero-pads the signal; onesided keeps the first
/// length/2 + 1 bins, and with inverse reads one-sided bins and returns the real signal (Hermitian symmetry).
/// </summary>
internal static class SpectralOps
{
    /// <summary>The longest transform built as a dense matrix.</summary>
    private const long MaxLength = 1 << 14;

    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["DFT"] = Dft;
        t["STFT"] = Stft;
    }

    private static OnnxValue[] Dft(NodeImport n)
    {
        var x = n.Input(0);
        int rank = x.Shape.Rank;
        if (rank < 2 || x.Shape[rank - 1].TryGetConstant() is not (1 or 2)) throw n.Import($"needs a signal [.., 1 or 2] (real or complex), got {x.Shape}");
        if (!x.DType.IsFloat()) throw n.Import($"needs a float signal, got {x.DType.TorchName()}");
        long axisValue = n.Opset < 20 ? n.Attrs.Int("axis", 1) : n.HasInput(2) ? Single(n, 2, "axis") : -2;
        if (axisValue < -rank || axisValue > rank - 2 || axisValue == -1) throw n.Import($"axis {axisValue} is out of range for a signal of rank {rank} (the last axis holds the complex parts)");
        int axis = (int)(axisValue < 0 ? axisValue + rank : axisValue);
        bool inverse = n.Attrs.Int("inverse", 0) != 0, onesided = n.Attrs.Int("onesided", 0) != 0;
        long given = x.Shape[axis].TryGetConstant() ?? throw n.Import($"needs a constant signal length along axis {axis}, got {x.Shape}");
        long length = n.HasInput(1) ? Single(n, 1, "dft_length") : inverse && onesided ? 2 * (given - 1) : given;
        if (length < 1 || length > MaxLength) throw n.Import($"dft_length {length} is out of range (1 to {MaxLength})");
        n.Expand(0, 2 * Math.Min(given, length) * length, $"the cosine and sine matrices of a {length}-point transform");
        var (re, im) = Parts(x);
        var (yRe, yIm) = Transform(re, im, axis, given, length, inverse, onesided);
        return NodeImport.One(yIm is null ? Unsqueeze(yRe, rank - 1) : Stack([yRe, yIm], rank - 1));
    }

    /// <summary>STFT: frames of the signal [batch, length, 1 or 2] every frame_step, times the window, each transformed.</summary>
    private static OnnxValue[] Stft(NodeImport n)
    {
        var x = n.Input(0);
        if (x.Shape.Rank != 3 || x.Shape[2].TryGetConstant() is not (1 or 2)) throw n.Import($"needs a signal [batch, length, 1 or 2], got {x.Shape}");
        if (!x.DType.IsFloat()) throw n.Import($"needs a float signal, got {x.DType.TorchName()}");
        long step = Single(n, 1, "frame_step");
        var window = n.OptionalInput(2);
        long frame = n.HasInput(3) ? Single(n, 3, "frame_length")
            : window?.Shape[0].TryGetConstant() ?? throw n.Import("needs frame_length or a window of constant length");
        if (window is not null && window.Shape[0].TryGetConstant() != frame) throw n.Import($"window {window.Shape} does not have frame_length {frame}");
        long signal = x.Shape[1].TryGetConstant() ?? throw n.Import($"needs a constant signal length, got {x.Shape}");
        if (step < 1 || frame < 1 || frame > signal || frame > MaxLength) throw n.Import($"frame_step {step} and frame_length {frame} do not fit a signal of {signal}");
        long frames = ((signal - frame) / step) + 1;
        n.Expand(0, (frames * frame) + (2 * frame * frame), $"{frames} frames of {frame} samples and their {frame}-point transform");
        var index = new long[frames * frame];
        for (long f = 0; f < frames; f++)
        {
            for (long k = 0; k < frame; k++) index[(f * frame) + k] = (f * step) + k;
        }

        var framed = IndexSelect(x, 1, Constant(HostTensor.FromArray(index, [index.Length])));
        framed = Reshape(framed, new Shape([x.Shape[0], Dim.Of(frames), Dim.Of(frame), x.Shape[2]]));
        if (window is not null) framed = Binary(Op.Mul, framed, Reshape(Cast(window, x.DType), new Shape([Dim.One, Dim.One, Dim.Of(frame), Dim.One])));
        var (re, im) = Parts(framed);
        var (yRe, yIm) = Transform(re, im, 2, frame, frame, inverse: false, onesided: n.Attrs.Int("onesided", 1) != 0);
        return NodeImport.One(Stack([yRe, yIm!], 3));
    }

    private static long Single(NodeImport n, int i, string what)
    {
        var v = n.ConstInts(i, what);
        return v.Length == 1 ? v[0] : throw n.Import($"{what} (input {i}) must be a single value, got {v.Length}");
    }

    /// <summary>The real part and (for a complex signal) the imaginary part, without the trailing axis.</summary>
    private static (Node Re, Node? Im) Parts(Node x)
    {
        int last = x.Shape.Rank - 1;
        return x.Shape[last].TryGetConstant() == 2 ? (Select(x, last, 0), Select(x, last, 1)) : (Select(x, last, 0), null);
    }

    /// <summary>
    /// The transform of <paramref name="given"/> samples along <paramref name="axis"/>, as a signal of
    /// <paramref name="length"/> (truncated or zero-padded): the real and imaginary parts, or only the real part for the
    /// inverse of one-sided bins.
    /// </summary>
    private static (Node Re, Node? Im) Transform(Node re, Node? im, int axis, long given, long length, bool inverse, bool onesided)
    {
        int last = re.Shape.Rank - 1;
        long used = inverse && onesided ? Math.Min(given, (length / 2) + 1) : Math.Min(given, length);
        re = Transpose(Narrow(re, axis, Dim.Zero, Dim.Of(used)), axis, last);
        im = im is null ? null : Transpose(Narrow(im, axis, Dim.Zero, Dim.Of(used)), axis, last);
        var dtype = re.DType;
        Node Matrix(double[] m, long cols) => Constant(HostTensor.FromArray(m, (int)used, (int)cols).Cast(dtype));

        if (inverse && onesided)
        {
            // x[m] = (1/L) Σ_k c_k (Re X_k cos θ − Im X_k sin θ), θ = 2πkm/L, c_k = 2 except the DC and (even L) Nyquist bins.
            var cos = new double[used * length];
            var sin = new double[used * length];
            for (long k = 0; k < used; k++)
            {
                double weight = k == 0 || (length % 2 == 0 && k == length / 2) ? 1 : 2;
                for (long m = 0; m < length; m++)
                {
                    double theta = 2 * Math.PI * ((k * m) % length) / length;
                    cos[(k * length) + m] = weight * Math.Cos(theta) / length;
                    sin[(k * length) + m] = -weight * Math.Sin(theta) / length;
                }
            }

            var real = MatMul(re, Matrix(cos, length));
            if (im is not null) real = Binary(Op.Add, real, MatMul(im, Matrix(sin, length)));
            return (Transpose(real, axis, last), null);
        }

        long bins = onesided ? (length / 2) + 1 : length;
        double sign = inverse ? 1 : -1, scale = inverse ? 1.0 / length : 1;
        var wc = new double[used * bins];
        var ws = new double[used * bins];
        for (long m = 0; m < used; m++)
        {
            for (long k = 0; k < bins; k++)
            {
                double theta = 2 * Math.PI * ((k * m) % length) / length;
                wc[(m * bins) + k] = scale * Math.Cos(theta);
                ws[(m * bins) + k] = scale * sign * Math.Sin(theta);
            }
        }

        Node c = Matrix(wc, bins), s = Matrix(ws, bins);
        // (re + i·im)(wc + i·ws) = (re·wc − im·ws) + i(re·ws + im·wc)
        var yRe = MatMul(re, c);
        var yIm = MatMul(re, s);
        if (im is not null)
        {
            yRe = Binary(Op.Sub, yRe, MatMul(im, s));
            yIm = Binary(Op.Add, yIm, MatMul(im, c));
        }

        return (Transpose(yRe, axis, last), Transpose(yIm, axis, last));
    }
}
