using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// HannWindow, HammingWindow, BlackmanWindow and MelWeightMatrix (opset 17), constants computed at import. The windows:
/// a constant of the given size computed at import as a sum of
/// cosines a₀ − a₁·cos(2πn/D) + a₂·cos(4πn/D), with D = size when periodic (the default) and size − 1 when symmetric.
/// </summary>
internal static class WindowOps
{
    private const long MaxSize = 1 << 20;

    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["HannWindow"] = n => Window(n, 0.5, 0.5, 0);
        t["HammingWindow"] = n => Window(n, 25.0 / 46, 1 - (25.0 / 46), 0);
        t["BlackmanWindow"] = n => Window(n, 0.42, 0.5, 0.08);
        t["MelWeightMatrix"] = MelWeightMatrix;
    }

    /// <summary>
    /// MelWeightMatrix (opset 17): a constant [dft_length/2 + 1, num_mel_bins] of triangular filters whose edges are
    /// num_mel_bins + 2 points equally spaced on the mel scale (2595·log10(1 + f/700)) between the edge frequencies, each
    /// mapped to the spectrogram bin ⌊(dft_length + 1)·f / sample_rate⌋, as ONNX's reference computes them (the edge mels
    /// and their step in float32, the points in float64).
    /// </summary>
    private static OnnxValue[] MelWeightMatrix(NodeImport n)
    {
        long mels = Single(n, 0, "num_mel_bins"), dft = Single(n, 1, "dft_length"), rate = Single(n, 2, "sample_rate");
        float low = (float)KnownScalar(n, 3, "lower_edge_hertz"), high = (float)KnownScalar(n, 4, "upper_edge_hertz");
        if (mels < 1 || mels > MaxSize || dft < 1 || dft > MaxSize || rate < 1) throw n.Import($"num_mel_bins {mels}, dft_length {dft} and sample_rate {rate} must be positive (sizes up to {MaxSize})");
        long code = n.Attrs.Int("output_datatype", 1);
        var dtype = OnnxDataTypes.ToDType((int)Math.Clamp(code, 0, 1000)) ?? throw n.Import($"output_datatype {OnnxDataTypes.Name((int)Math.Clamp(code, 0, 1000))} is not supported");
        long spectrum = (dft / 2) + 1;
        float lowMel = 2595f * MathF.Log10(1 + (low / 700f)), highMel = 2595f * MathF.Log10(1 + (high / 700f));
        float step = (highMel - lowMel) / (mels + 2);
        var edge = new long[mels + 2];
        for (long i = 0; i < edge.Length; i++)
        {
            double hz = 700 * (Math.Pow(10, ((i * (double)step) + lowMel) / 2595) - 1);
            edge[i] = (long)Math.Floor((dft + 1) * hz / rate);
            if (edge[i] < 0 || edge[i] >= spectrum) throw n.Import($"the filter edge at {hz} Hz falls outside the {spectrum} spectrogram bins");
        }

        n.Expand(0, spectrum * mels, $"a {spectrum} × {mels} filter bank");
        var values = new double[spectrum * mels];
        for (long m = 0; m < mels; m++)
        {
            long left = edge[m], center = edge[m + 1], right = edge[m + 2];
            if (center == left) values[(center * mels) + m] = 1;
            for (long j = left; center > left && j <= center; j++) values[(j * mels) + m] = (double)(j - left) / (center - left);
            for (long j = center; j < right; j++) values[(j * mels) + m] = (double)(right - j) / (right - center);
        }

        return NodeImport.One(Constant(HostTensor.FromDoubles(dtype, values, (int)spectrum, (int)mels)));
    }

    private static long Single(NodeImport n, int i, string what) =>
        n.ConstInts(i, what) is [long v] ? v : throw n.Import($"{what} (input {i}) must be one value");

    /// <summary>A one-element input known at import, as a double.</summary>
    private static double KnownScalar(NodeImport n, int i, string what)
    {
        var node = n.Input(i);
        if (node.Op != Candle.Compiler.Ir.Op.Constant || node.Shape.Numel.TryGetConstant() != 1) throw n.Import($"needs {what} (input {i}) to be one value known at import");
        return node.Attr<Candle.Compiler.Ir.ConstantAttrs>().Data.GetDouble(0);
    }

    private static OnnxValue[] Window(NodeImport n, double a0, double a1, double a2)
    {
        long[] size = n.ConstInts(0, "size");
        if (size.Length != 1 || size[0] < 0 || size[0] > MaxSize) throw n.Import($"size must be one value in [0, {MaxSize}], got [{string.Join(", ", size)}]");
        long code = n.Attrs.Int("output_datatype", 1);
        var dtype = OnnxDataTypes.ToDType((int)Math.Clamp(code, 0, 1000)) ?? throw n.Import($"output_datatype {OnnxDataTypes.Name((int)Math.Clamp(code, 0, 1000))} is not supported");
        bool periodic = n.Attrs.Int("periodic", 1) != 0;
        int count = (int)size[0];
        double d = periodic ? count : count - 1;
        n.Expand(0, count, $"a window of {count} samples");
        var values = new double[count];
        for (int i = 0; i < count; i++)
        {
            double angle = d == 0 ? 0 : 2 * Math.PI * i / d;
            values[i] = a0 - (a1 * Math.Cos(angle)) + (a2 * Math.Cos(2 * angle));
        }

        return NodeImport.One(Constant(HostTensor.FromDoubles(dtype, values, count)));
    }
}
