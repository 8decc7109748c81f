using Candle.Compiler.Ir;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>
/// N-d convolution and transposed convolution in NC* layout with stride, zero padding, dilation, groups and an
/// optional bias, accumulated in double. Conv weight: [C_out, C_in/groups, *k]; conv_transpose weight:
/// [C_in, C_out/groups, *k], where input position i and tap k feed output position i·stride − pad + k·dilation.
/// </summary>
internal static class ConvolutionEvaluator
{
    public static HostTensor Evaluate(OpCall call) => call.Op == Op.Conv ? Conv(call) : ConvTranspose(call);

    private static HostTensor Conv(OpCall call)
    {
        var a = call.Attr<ConvAttrs>();
        var xs = call.Shape(0);
        var ws = call.Shape(1);
        var os = call.OutShape;
        var x = TensorData.ReadDoubles(call[0]);
        var w = TensorData.ReadDoubles(call[1]);
        double[]? bias = a.HasBias ? TensorData.ReadDoubles(call[2]) : null;
        int n = xs[0], cin = xs[1], cout = os[1];
        int cinG = cin / a.Groups, coutG = cout / a.Groups;
        int inSp = Layout.Numel(xs[2..]), outSp = Layout.Numel(os[2..]), kSp = Layout.Numel(ws[2..]);

        // taps[o·kSp + t]: the input spatial offset read by output position o through kernel tap t, or −1 in the padding.
        var taps = Layout.WindowTaps(os[2..], ws[2..], xs[2..], a.Stride, a.Padding, a.Dilation);
        var y = new double[call.OutCount];
        for (int b = 0; b < n; b++)
        {
            for (int co = 0; co < cout; co++)
            {
                int g = co / coutG;
                int yBase = ((b * cout) + co) * outSp;
                for (int o = 0; o < outSp; o++)
                {
                    double acc = bias is null ? 0 : bias[co];
                    for (int ci = 0; ci < cinG; ci++)
                    {
                        int xBase = ((b * cin) + (g * cinG) + ci) * inSp;
                        int wBase = ((co * cinG) + ci) * kSp;
                        for (int t = 0; t < kSp; t++)
                        {
                            int src = taps[(o * kSp) + t];
                            if (src >= 0) acc += x[xBase + src] * w[wBase + t];
                        }
                    }

                    y[yBase + o] = acc;
                }
            }
        }

        return call.Result(y);
    }

    private static HostTensor ConvTranspose(OpCall call)
    {
        var a = call.Attr<ConvAttrs>();
        var xs = call.Shape(0);
        var ws = call.Shape(1);
        var os = call.OutShape;
        var x = TensorData.ReadDoubles(call[0]);
        var w = TensorData.ReadDoubles(call[1]);
        double[]? bias = a.HasBias ? TensorData.ReadDoubles(call[2]) : null;
        int n = xs[0], cin = xs[1], cout = os[1];
        int cinG = cin / a.Groups, coutG = cout / a.Groups;
        int inSp = Layout.Numel(xs[2..]), outSp = Layout.Numel(os[2..]), kSp = Layout.Numel(ws[2..]);

        // taps[i·kSp + t]: the output spatial offset that input position i feeds through kernel tap t, or −1 outside.
        var taps = Layout.WindowTaps(xs[2..], ws[2..], os[2..], a.Stride, a.Padding, a.Dilation);
        var y = new double[call.OutCount];
        for (int b = 0; b < n; b++)
        {
            for (int co = 0; co < cout; co++)
            {
                int yBase = ((b * cout) + co) * outSp;
                for (int o = 0; o < outSp; o++) y[yBase + o] = bias is null ? 0 : bias[co];
            }

            for (int ci = 0; ci < cin; ci++)
            {
                int g = ci / cinG;
                int xBase = ((b * cin) + ci) * inSp;
                for (int col = 0; col < coutG; col++)
                {
                    int co = (g * coutG) + col;
                    int yBase = ((b * cout) + co) * outSp;
                    int wBase = ((ci * coutG) + col) * kSp;
                    for (int i = 0; i < inSp; i++)
                    {
                        double xv = x[xBase + i];
                        for (int t = 0; t < kSp; t++)
                        {
                            int dst = taps[(i * kSp) + t];
                            if (dst >= 0) y[yBase + dst] += xv * w[wBase + t];
                        }
                    }
                }
            }
        }

        return call.Result(y);
    }
}
