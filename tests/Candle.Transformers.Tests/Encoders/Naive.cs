namespace Candle.Transformers.Tests.Encoders;

/// <summary>Plain double-precision loops: the independent oracle of the encoder tests.</summary>
internal static class Naive
{
    /// <summary>x [n, in] · wᵀ [out, in] + b.</summary>
    public static double[,] Linear(double[,] x, float[] w, float[]? b, int outF)
    {
        int n = x.GetLength(0), inF = x.GetLength(1);
        var y = new double[n, outF];
        for (int i = 0; i < n; i++)
        {
            for (int o = 0; o < outF; o++)
            {
                double s = b?[o] ?? 0;
                for (int k = 0; k < inF; k++) s += x[i, k] * w[(o * inF) + k];
                y[i, o] = s;
            }
        }

        return y;
    }

    public static double[,] LayerNorm(double[,] x, float[] g, float[] b, double eps)
    {
        int n = x.GetLength(0), d = x.GetLength(1);
        var y = new double[n, d];
        for (int i = 0; i < n; i++)
        {
            double mean = 0, v = 0;
            for (int k = 0; k < d; k++) mean += x[i, k];
            mean /= d;
            for (int k = 0; k < d; k++) v += (x[i, k] - mean) * (x[i, k] - mean);
            v /= d;
            for (int k = 0; k < d; k++) y[i, k] = ((x[i, k] - mean) / Math.Sqrt(v + eps) * g[k]) + b[k];
        }

        return y;
    }

    /// <summary>Softmax attention of [n, heads·hd] projections, optionally causal (query i sees keys ≤ i + (m − n)).</summary>
    public static double[,] Attention(double[,] q, double[,] k, double[,] v, int heads, bool causal = false)
    {
        int n = q.GetLength(0), m = k.GetLength(0), d = q.GetLength(1), hd = d / heads;
        var y = new double[n, d];
        for (int h = 0; h < heads; h++)
        {
            for (int i = 0; i < n; i++)
            {
                var s = new double[m];
                double max = double.NegativeInfinity;
                for (int j = 0; j < m; j++)
                {
                    if (causal && j > i + (m - n))
                    {
                        s[j] = double.NegativeInfinity;
                        continue;
                    }

                    double dot = 0;
                    for (int t = 0; t < hd; t++) dot += q[i, (h * hd) + t] * k[j, (h * hd) + t];
                    s[j] = dot / Math.Sqrt(hd);
                    max = Math.Max(max, s[j]);
                }

                double z = 0;
                for (int j = 0; j < m; j++) z += s[j] = Math.Exp(s[j] - max);
                for (int j = 0; j < m; j++)
                {
                    for (int t = 0; t < hd; t++) y[i, (h * hd) + t] += s[j] / z * v[j, (h * hd) + t];
                }
            }
        }

        return y;
    }

    public static double[,] Map(double[,] x, Func<double, double> f)
    {
        var y = (double[,])x.Clone();
        for (int i = 0; i < y.GetLength(0); i++)
        {
            for (int j = 0; j < y.GetLength(1); j++) y[i, j] = f(y[i, j]);
        }

        return y;
    }

    public static double[,] Add(double[,] a, double[,] b)
    {
        var y = (double[,])a.Clone();
        for (int i = 0; i < y.GetLength(0); i++)
        {
            for (int j = 0; j < y.GetLength(1); j++) y[i, j] += b[i, j];
        }

        return y;
    }

    /// <summary>Exact GELU x·Φ(x), with erf from Abramowitz–Stegun 7.1.26 (error below 1.5e-7).</summary>
    public static double Gelu(double x) => 0.5 * x * (1 + Erf(x / Math.Sqrt(2)));

    public static double Erf(double x)
    {
        double s = Math.Sign(x);
        x = Math.Abs(x);
        double t = 1 / (1 + (0.3275911 * x));
        double y = 1 - (((((((((1.061405429 * t) - 1.453152027) * t) + 1.421413741) * t) - 0.284496736) * t) + 0.254829592) * t * Math.Exp(-x * x));
        return s * y;
    }

    public static float[] Row(double[,] x, int i) => [.. Enumerable.Range(0, x.GetLength(1)).Select(j => (float)x[i, j])];
}
