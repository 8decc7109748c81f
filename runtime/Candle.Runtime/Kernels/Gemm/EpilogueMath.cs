using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Candle.Runtime.Kernels.Cpu.Lanes;
using Candle.Runtime.Kernels.Cpu.Ops;

namespace Candle.Runtime.Kernels.Gemm;

/// <summary>Vectorized row operations shared by the built-in epilogues.</summary>
internal static unsafe class EpilogueMath
{
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
    private static Vector256<float> Activate(Vector256<float> v, GemmActivation activation) => Activate<Lanes256, Vector256<float>>(v, activation);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Activate(float v, GemmActivation activation) => Activate<Lanes1, float>(v, activation);

    // The activations are the elementwise operator structs, so a fused epilogue computes what the unfused op would.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Activate<TLanes, TVec>(TVec v, GemmActivation activation)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged => activation switch
    {
        GemmActivation.Relu => ReluOp.Invoke<TLanes, TVec>(v),
        GemmActivation.GeluTanh => GeluTanhOp.Invoke<TLanes, TVec>(v),
        GemmActivation.Silu => SiluOp.Invoke<TLanes, TVec>(v),
        _ => v,
    };
}
