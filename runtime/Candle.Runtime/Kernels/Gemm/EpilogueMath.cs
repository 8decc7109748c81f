using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Candle.Runtime.Kernels.Gemm;

/// <summary>Vectorized row operations shared by the built-in epilogues.</summary>
internal static unsafe class EpilogueMath
{
    private const float GeluCoefficient = 0.7978845608028654f; // sqrt(2 / pi)
    private const float GeluCubic = 0.044715f;

    /// <summary>x[j] += y[j] for j in [0, n).</summary>
    public static void AddRow(float* x, float* y, int n)
    {
        int j = 0;
        for (; j + 8 <= n; j += 8)
        {
            (Vector256.Load(x + j) + Vector256.Load(y + j)).Store(x + j);
        }

        for (; j < n; j++)
        {
            x[j] += y[j];
        }
    }

    /// <summary>x[j] *= s for j in [0, n).</summary>
    public static void ScaleRow(float* x, float s, int n)
    {
        var vs = Vector256.Create(s);
        int j = 0;
        for (; j + 8 <= n; j += 8)
        {
            (Vector256.Load(x + j) * vs).Store(x + j);
        }

        for (; j < n; j++)
        {
            x[j] *= s;
        }
    }

    /// <summary>x[j] = act(x[j] + bias[j]) for j in [0, n); <paramref name="bias"/> may be null.</summary>
    public static void BiasActivationRow(float* x, float* bias, int n, GemmActivation activation)
    {
        int j = 0;
        for (; j + 8 <= n; j += 8)
        {
            var v = Vector256.Load(x + j);
            if (bias != null)
            {
                v += Vector256.Load(bias + j);
            }

            Activate(v, activation).Store(x + j);
        }

        for (; j < n; j++)
        {
            float v = x[j];
            if (bias != null)
            {
                v += bias[j];
            }

            x[j] = Activate(v, activation);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Activate(Vector256<float> v, GemmActivation activation)
    {
        switch (activation)
        {
            case GemmActivation.Relu:
                return Vector256.Max(v, Vector256<float>.Zero);
            case GemmActivation.GeluTanh:
                {
                    // 0.5 (1 + tanh(u)) = 1 / (1 + exp(-2u))
                    var u = Vector256.Create(GeluCoefficient) * (v + (Vector256.Create(GeluCubic) * v * v * v));
                    var e = Vector256.Exp(Vector256.Create(-2f) * u);
                    return v / (Vector256<float>.One + e);
                }

            case GemmActivation.Silu:
                return v / (Vector256<float>.One + Vector256.Exp(-v));
            default:
                return v;
        }
    }

    private static float Activate(float v, GemmActivation activation) => activation switch
    {
        GemmActivation.Relu => MathF.Max(v, 0f),
        GemmActivation.GeluTanh => v / (1f + MathF.Exp(-2f * GeluCoefficient * (v + (GeluCubic * v * v * v)))),
        GemmActivation.Silu => v / (1f + MathF.Exp(-v)),
        _ => v,
    };
}
