using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// HannWindow, HammingWindow and BlackmanWindow (opset 17): a constant of the given size computed at import as a sum of
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
        var values = new double[count];
        for (int i = 0; i < count; i++)
        {
            double angle = d == 0 ? 0 : 2 * Math.PI * i / d;
            values[i] = a0 - (a1 * Math.Cos(angle)) + (a2 * Math.Cos(2 * angle));
        }

        return NodeImport.One(Constant(HostTensor.FromDoubles(dtype, values, count)));
    }
}
