using Candle.Compiler.Ir;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>
/// Products and lookups of quantized constants, on the exact dequantization of the blocks (the oracle the quantized
/// kernels are compared with): the weight input arrives dequantized (<see cref="LeafEvaluator"/>); products accumulate in double.
/// </summary>
internal static class QuantEvaluator
{
    public static HostTensor Evaluate(OpCall call) => call.Op switch
    {
        Op.QuantMatMul => MatMul(call),
        Op.QuantEmbedding => Embedding(call),
        _ => throw new InvalidOperationException($"{call.Op.Name()} is not a quantized op"),
    };

    private static HostTensor MatMul(OpCall call)
    {
        var x = TensorData.ReadDoubles(call[0]);
        var w = call[1].AsSpan<float>();
        int n = call[1].Shape[0], k = call[1].Shape[1];
        int rows = k == 0 ? 0 : x.Length / k;
        var y = new double[rows * n];
        for (int m = 0; m < rows; m++)
        {
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                var wr = w.Slice(j * k, k);
                for (int p = 0; p < k; p++) s += x[(m * k) + p] * wr[p];
                y[(m * n) + j] = s;
            }
        }

        return call.Result(y);
    }

    private static HostTensor Embedding(OpCall call)
    {
        var w = call[0].AsSpan<float>();
        int rows = call[0].Shape[0], cols = call[0].Shape[1];
        var ids = TensorData.ReadLongs(call[1]);
        var y = new double[ids.Length * cols];
        for (int j = 0; j < ids.Length; j++)
        {
            long id = ids[j];
            if (id < 0 || id >= rows) throw call.IndexError(id, 0, rows);
            for (int c = 0; c < cols; c++) y[(j * cols) + c] = w[(int)(id * cols) + c];
        }

        return call.Result(y);
    }
}
