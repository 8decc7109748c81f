using Candle.Compiler.Ir;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>
/// Rotary embedding of x [..., D] with cos, sin [..., D/2]. Halves layout (transformers' rotate_half): for
/// i &lt; D/2, out[i] = x[i]·cos[i] − x[i+D/2]·sin[i] and out[i+D/2] = x[i+D/2]·cos[i] + x[i]·sin[i].
/// Interleaved layout: the same rotation on the pairs (2i, 2i+1).
/// </summary>
internal static class RopeEvaluator
{
    public static HostTensor Evaluate(OpCall call)
    {
        bool interleaved = call.Attr<RopeAttrs>().Interleaved;
        var x = TensorData.ReadDoubles(call[0]);
        var cos = TensorData.ReadDoubles(call[1]);
        var sin = TensorData.ReadDoubles(call[2]);
        int d = call.OutShape[^1], half = d / 2;
        int rows = d == 0 ? 0 : x.Length / d;
        var y = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            int o = r * d, h = r * half;
            for (int i = 0; i < half; i++)
            {
                int i0 = interleaved ? o + (2 * i) : o + i;
                int i1 = interleaved ? i0 + 1 : o + i + half;
                double c = cos[h + i], s = sin[h + i];
                y[i0] = (x[i0] * c) - (x[i1] * s);
                y[i1] = (x[i1] * c) + (x[i0] * s);
            }
        }

        return call.Result(y);
    }
}
