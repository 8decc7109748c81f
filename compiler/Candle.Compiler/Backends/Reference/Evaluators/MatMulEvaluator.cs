using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>Batched matrix product [..., M, K] × [..., K, N] with equal batch dims; accumulates in double (int64 for integers).</summary>
internal static class MatMulEvaluator
{
    public static HostTensor Evaluate(OpCall call)
    {
        var sa = call.Shape(0);
        var sb = call.Shape(1);
        int r = sa.Length;
        int m = sa[r - 2], k = sa[r - 1], n = sb[r - 1];
        int batch = Layout.Numel(sa[..(r - 2)]);
        if (call[0].DType.IsFloat())
        {
            var a = TensorData.ReadDoubles(call[0]);
            var b = TensorData.ReadDoubles(call[1]);
            var c = new double[batch * m * n];
            for (int z = 0; z < batch; z++)
            {
                int ao = z * m * k, bo = z * k * n, co = z * m * n;
                for (int i = 0; i < m; i++)
                {
                    int row = co + (i * n);
                    for (int p = 0; p < k; p++)
                    {
                        double av = a[ao + (i * k) + p];
                        int brow = bo + (p * n);
                        for (int j = 0; j < n; j++) c[row + j] += av * b[brow + j];
                    }
                }
            }

            return call.Result(c);
        }

        var x = TensorData.ReadLongs(call[0]);
        var y = TensorData.ReadLongs(call[1]);
        var z2 = new long[batch * m * n];
        for (int z = 0; z < batch; z++)
        {
            int ao = z * m * k, bo = z * k * n, co = z * m * n;
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    long acc = 0;
                    for (int p = 0; p < k; p++) acc = unchecked(acc + (x[ao + (i * k) + p] * y[bo + (p * n) + j]));
                    z2[co + (i * n) + j] = acc;
                }
            }
        }

        return call.Result(z2);
    }
}
