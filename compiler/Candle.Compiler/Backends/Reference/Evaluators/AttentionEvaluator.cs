using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>
/// Scaled dot-product attention, PyTorch's math path in double: q [B, H, Sq, D], k [B, Hkv, Sk, D],
/// v [B, Hkv, Sk, Dv], query head h reading key/value head h / (H / Hkv) (grouped-query attention).
/// Scores are q·kᵀ·scale; causal masking hides key j from query i when j &gt; i + (Sk − Sq), i.e. the mask is
/// aligned to the bottom-right corner so the last query sees every key (a decode step sees the whole cache).
/// An optional mask [B, H, Sq, Sk] keeps positions where it is true (bool) or is added to the scores (float).
/// The softmax over keys is the stable one, so a row whose every score is −∞ yields NaN, as PyTorch's math
/// path does.
/// </summary>
internal static class AttentionEvaluator
{
    public static HostTensor Evaluate(OpCall call)
    {
        var a = call.Attr<AttentionAttrs>();
        var qs = call.Shape(0);
        var ks = call.Shape(1);
        var vs = call.Shape(2);
        int batch = qs[0], heads = qs[1], sq = qs[2], dk = qs[3];
        int kvHeads = ks[1], sk = ks[2], dv = vs[3];
        var q = TensorData.ReadDoubles(call[0]);
        var k = TensorData.ReadDoubles(call[1]);
        var v = TensorData.ReadDoubles(call[2]);
        double[]? addMask = null;
        long[]? keepMask = null;
        if (a.HasMask)
        {
            if (call[3].DType == DType.Bool) keepMask = TensorData.ReadLongs(call[3]);
            else addMask = TensorData.ReadDoubles(call[3]);
        }

        if (heads > 0 && (kvHeads == 0 || heads % kvHeads != 0))
        {
            throw new ArgumentException($"{call.Describe()}: query heads {heads} are not a multiple of key/value heads {kvHeads}");
        }

        int group = kvHeads == 0 ? 1 : heads / kvHeads;
        var y = new double[call.OutCount];
        var p = new double[sk];
        for (int b = 0; b < batch; b++)
        {
            for (int h = 0; h < heads; h++)
            {
                int kvh = h / group;
                int qBase = ((b * heads) + h) * sq * dk;
                int kBase = ((b * kvHeads) + kvh) * sk * dk;
                int vBase = ((b * kvHeads) + kvh) * sk * dv;
                int mBase = ((b * heads) + h) * sq * sk;
                int yBase = ((b * heads) + h) * sq * dv;
                for (int i = 0; i < sq; i++)
                {
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < sk; j++)
                    {
                        double s = 0;
                        for (int t = 0; t < dk; t++) s += q[qBase + (i * dk) + t] * k[kBase + (j * dk) + t];
                        s *= a.Scale;
                        if (a.Causal && j > i + (sk - sq)) s = double.NegativeInfinity;
                        if (keepMask is not null && keepMask[mBase + (i * sk) + j] == 0) s = double.NegativeInfinity;
                        if (addMask is not null) s += addMask[mBase + (i * sk) + j];
                        p[j] = s;
                        max = Math.Max(max, s);
                    }

                    double sum = 0;
                    for (int j = 0; j < sk; j++)
                    {
                        p[j] = Math.Exp(p[j] - max);
                        sum += p[j];
                    }

                    int yRow = yBase + (i * dv);
                    for (int j = 0; j < sk; j++)
                    {
                        double w = p[j] / sum;
                        for (int t = 0; t < dv; t++) y[yRow + t] += w * v[vBase + (j * dv) + t];
                    }
                }
            }
        }

        return call.Result(y);
    }
}
