using Candle.Compiler;
using Candle.Compiler.Backends.Reference;
using Candle.Onnx.Proto;
using Candle.Runtime.Tensors;
using Google.Protobuf;
using static Candle.Onnx.Tests.TestModels;

namespace Candle.Onnx.Tests;

/// <summary>
/// GRU (bidirectional, linear_before_reset, per-entry sequence lengths) against a scalar loop written from the ONNX
/// spec's equations, through the interpreter and the CPU plan.
/// </summary>
public sealed class RecurrentOpTests : IDisposable
{
    private const int T = 3, B = 2, I = 2, H = 2;
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-onnx-rnn-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static float[] Values(int count, int seed)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => (float)((rng.NextDouble() * 2) - 1))];
    }

    private static TensorProto Floats(string name, long[] dims, float[] values)
    {
        var t = new TensorProto { Name = name, DataType = 1 };
        t.Dims.AddRange(dims);
        t.FloatData.AddRange(values);
        return t;
    }

    private static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));

    /// <summary>The spec's GRU for one direction: Y [T, B, H] (zero past each entry's length) and the last live state.</summary>
    private static (double[,,] Y, double[,] H) Gru(float[] x, float[] w, float[] r, float[] bias, int dir, bool reverse, int[] lens, bool linearBeforeReset)
    {
        var y = new double[T, B, H];
        var h = new double[B, H];
        for (int b = 0; b < B; b++)
        {
            for (int s = 0; s < lens[b]; s++)
            {
                int t = reverse ? lens[b] - 1 - s : s;
                var next = new double[H];
                for (int j = 0; j < H; j++)
                {
                    double Lin(float[] m, int gate, Func<int, double> v, int width, int offset)
                    {
                        double acc = 0;
                        for (int k = 0; k < width; k++) acc += m[offset + (((gate * H) + j) * width) + k] * v(k);
                        return acc;
                    }

                    int wo = dir * 3 * H * I, ro = dir * 3 * H * H, bo = dir * 6 * H;
                    double Xk(int k) => x[(((t * B) + b) * I) + k];
                    double Hk(int k) => h[b, k];
                    double z = Sigmoid(Lin(w, 0, Xk, I, wo) + Lin(r, 0, Hk, H, ro) + bias[bo + j] + bias[bo + (3 * H) + j]);
                    double rr = Sigmoid(Lin(w, 1, Xk, I, wo) + Lin(r, 1, Hk, H, ro) + bias[bo + H + j] + bias[bo + (4 * H) + j]);
                    double cand;
                    if (linearBeforeReset)
                    {
                        cand = Lin(w, 2, Xk, I, wo) + bias[bo + (2 * H) + j] + (rr * (Lin(r, 2, Hk, H, ro) + bias[bo + (5 * H) + j]));
                    }
                    else
                    {
                        // (r ⊙ H) · Rhᵀ needs every gate r_k, so recompute them for this row.
                        double acc = 0;
                        for (int k = 0; k < H; k++)
                        {
                            double rk = 0;
                            for (int m = 0; m < I; m++) rk += w[wo + (((1 * H) + k) * I) + m] * Xk(m);
                            for (int m = 0; m < H; m++) rk += r[ro + (((1 * H) + k) * H) + m] * h[b, m];
                            rk = Sigmoid(rk + bias[bo + H + k] + bias[bo + (4 * H) + k]);
                            acc += r[ro + (((2 * H) + j) * H) + k] * rk * h[b, k];
                        }

                        cand = Lin(w, 2, Xk, I, wo) + acc + bias[bo + (2 * H) + j] + bias[bo + (5 * H) + j];
                    }

                    next[j] = ((1 - z) * Math.Tanh(cand)) + (z * h[b, j]);
                }

                for (int j = 0; j < H; j++) y[t, b, j] = h[b, j] = next[j];
            }
        }

        return (y, h);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Bidirectional_GRU_with_sequence_lengths_matches_the_spec_equations(bool linearBeforeReset)
    {
        float[] x = Values(T * B * I, 1), w = Values(2 * 3 * H * I, 2), r = Values(2 * 3 * H * H, 3), bias = Values(2 * 6 * H, 4);
        int[] lens = [3, 2];
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", 1, T, B, I));
        g.Output.Add(Value("y", 1, T, 2, B, H));
        g.Output.Add(Value("yh", 1, 2, B, H));
        g.Initializer.Add(Floats("w", [2, 3 * H, I], w));
        g.Initializer.Add(Floats("r", [2, 3 * H, H], r));
        g.Initializer.Add(Floats("b", [2, 6 * H], bias));
        var lensTensor = new TensorProto { Name = "lens", DataType = 6 };
        lensTensor.Dims.Add(B);
        lensTensor.Int32Data.AddRange(lens);
        g.Initializer.Add(lensTensor);
        g.Node.Add(Node("GRU", ["x", "w", "r", "b", "lens"], ["y", "yh"], Int("hidden_size", H), Int("linear_before_reset", linearBeforeReset ? 1 : 0),
            new AttributeProto { Name = "direction", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8("bidirectional") }));
        var graph = OnnxModel.Load(Save(_tmp, "gru.onnx", g, 14)).Graph;
        var input = HostTensor.FromArray(x, [T, B, I]);
        var reference = ReferenceInterpreter.Run(graph, [input]);
        using var plan = CandleCompiler.Compile(graph);
        var cpu = plan.Run([input]);

        var fwd = Gru(x, w, r, bias, 0, reverse: false, lens, linearBeforeReset);
        var bwd = Gru(x, w, r, bias, 1, reverse: true, lens, linearBeforeReset);
        var expectedY = new float[T * 2 * B * H];
        for (int t = 0; t < T; t++)
        {
            for (int b = 0; b < B; b++)
            {
                for (int j = 0; j < H; j++)
                {
                    expectedY[(((((t * 2) + 0) * B) + b) * H) + j] = (float)fwd.Y[t, b, j];
                    expectedY[(((((t * 2) + 1) * B) + b) * H) + j] = (float)bwd.Y[t, b, j];
                }
            }
        }

        var expectedH = new float[2 * B * H];
        for (int b = 0; b < B; b++)
        {
            for (int j = 0; j < H; j++) (expectedH[(b * H) + j], expectedH[(B * H) + (b * H) + j]) = ((float)fwd.H[b, j], (float)bwd.H[b, j]);
        }

        foreach (var actual in new[] { reference, cpu })
        {
            Assert.Equal([T, 2, B, H], actual[0].Shape);
            TensorAssert.Close(HostTensor.FromArray(expectedY, [T, 2, B, H]), actual[0], "Y");
            TensorAssert.Close(HostTensor.FromArray(expectedH, [2, B, H]), actual[1], "Y_h");
        }
    }
}
