namespace Candle.Torch.Tests;

/// <summary>Plain-loop implementations used as independent expectations.</summary>
internal static class Oracle
{
    public static float[] Conv2d(float[] x, int n, int c, int h, int w, float[] k, int o, int kh, int kw, float[]? bias, int stride, int pad)
    {
        int oh = ((h + (2 * pad) - kh) / stride) + 1, ow = ((w + (2 * pad) - kw) / stride) + 1;
        var y = new float[n * o * oh * ow];
        for (int b = 0; b < n; b++)
        for (int oc = 0; oc < o; oc++)
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        {
            double s = bias?[oc] ?? 0;
            for (int ic = 0; ic < c; ic++)
            for (int u = 0; u < kh; u++)
            for (int v = 0; v < kw; v++)
            {
                int yy = (i * stride) + u - pad, xx = (j * stride) + v - pad;
                if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                s += x[(((b * c) + ic) * h * w) + (yy * w) + xx] * k[(((oc * c) + ic) * kh * kw) + (u * kw) + v];
            }

            y[(((b * o) + oc) * oh * ow) + (i * ow) + j] = (float)s;
        }

        return y;
    }

    /// <summary>Transposed 1-d conv by scattering each input element: weight [cin, cout, k].</summary>
    public static float[] ConvTranspose1d(float[] x, int cin, int l, float[] k, int cout, int kl, int stride, int pad, int outPad)
    {
        int full = ((l - 1) * stride) + kl + outPad;
        int lo = full - (2 * pad);
        var y = new double[cout * full];
        for (int ic = 0; ic < cin; ic++)
        for (int i = 0; i < l; i++)
        for (int oc = 0; oc < cout; oc++)
        for (int u = 0; u < kl; u++)
        {
            y[(oc * full) + (i * stride) + u] += x[(ic * l) + i] * k[(((ic * cout) + oc) * kl) + u];
        }

        var r = new float[cout * lo];
        for (int oc = 0; oc < cout; oc++)
        for (int i = 0; i < lo; i++) r[(oc * lo) + i] = (float)y[(oc * full) + i + pad];
        return r;
    }

    /// <summary>Attention for [b, h, s, d] row-major arrays; k/v have hkv heads; causal bottom-right aligned.</summary>
    public static float[] Attention(float[] q, float[] k, float[] v, int b, int h, int hkv, int sq, int sk, int d, bool causal, bool[]? keep = null)
    {
        var o = new float[b * h * sq * d];
        double scale = 1 / Math.Sqrt(d);
        for (int bi = 0; bi < b; bi++)
        for (int hi = 0; hi < h; hi++)
        {
            int kh = hi / (h / hkv);
            for (int i = 0; i < sq; i++)
            {
                var w = new double[sk];
                double max = double.NegativeInfinity;
                for (int j = 0; j < sk; j++)
                {
                    bool masked = (causal && j > i + (sk - sq)) || (keep is not null && !keep[(i * sk) + j]);
                    if (masked)
                    {
                        w[j] = double.NegativeInfinity;
                        continue;
                    }

                    double s = 0;
                    for (int t = 0; t < d; t++) s += q[((((bi * h) + hi) * sq) + i) * d + t] * k[((((bi * hkv) + kh) * sk) + j) * d + t];
                    w[j] = s * scale;
                    max = Math.Max(max, w[j]);
                }

                double sum = 0;
                for (int j = 0; j < sk; j++)
                {
                    w[j] = Math.Exp(w[j] - max);
                    sum += w[j];
                }

                for (int t = 0; t < d; t++)
                {
                    double acc = 0;
                    for (int j = 0; j < sk; j++) acc += w[j] / sum * v[((((bi * hkv) + kh) * sk) + j) * d + t];
                    o[((((bi * h) + hi) * sq) + i) * d + t] = (float)acc;
                }
            }
        }

        return o;
    }

    /// <summary>y = x·Wᵀ + b for x [m, in], W [out, in].</summary>
    public static float[] Linear(float[] x, int m, int inF, float[] w, int outF, float[]? b)
    {
        var y = new float[m * outF];
        for (int i = 0; i < m; i++)
        for (int o = 0; o < outF; o++)
        {
            double s = b?[o] ?? 0;
            for (int t = 0; t < inF; t++) s += x[(i * inF) + t] * w[(o * inF) + t];
            y[(i * outF) + o] = (float)s;
        }

        return y;
    }
}
