using Candle.Compiler.Ir;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>
/// Max and average pooling over the spatial dims of [N, C, *spatial]. Max pooling treats padding as −∞ and
/// propagates NaN; average pooling divides by the kernel size when padding counts, else by the number of
/// in-bounds elements.
/// </summary>
internal static class PoolingEvaluator
{
    public static HostTensor Evaluate(OpCall call)
    {
        var a = call.Attr<PoolAttrs>();
        var xs = call.Shape(0);
        var os = call.OutShape;
        var x = TensorData.ReadDoubles(call[0]);
        int planes = xs[0] * xs[1];
        int inSp = Layout.Numel(xs[2..]), outSp = Layout.Numel(os[2..]), kSp = Layout.Numel(a.Kernel);
        var taps = Layout.WindowTaps(os[2..], [.. a.Kernel], xs[2..], a.Stride, a.Padding, null);
        var y = new double[call.OutCount];
        bool max = call.Op == Op.MaxPool;
        for (int pl = 0; pl < planes; pl++)
        {
            int xBase = pl * inSp;
            for (int o = 0; o < outSp; o++)
            {
                double acc = max ? double.NegativeInfinity : 0;
                int count = 0;
                for (int t = 0; t < kSp; t++)
                {
                    int src = taps[(o * kSp) + t];
                    if (src < 0) continue;
                    double v = x[xBase + src];
                    count++;
                    if (!max) acc += v;
                    else if (v > acc || double.IsNaN(v)) acc = v;
                    if (max && double.IsNaN(acc)) break;
                }

                y[(pl * outSp) + o] = max ? acc : acc / (a.CountIncludePad ? kSp : count);
            }
        }

        return call.Result(y);
    }
}
