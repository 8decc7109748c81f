namespace Candle.Runtime.Kernels.Gemm;

/// <summary>Activation functions that epilogues can apply to C.</summary>
public enum GemmActivation
{
    /// <summary>The identity.</summary>
    None,

    /// <summary>max(x, 0).</summary>
    Relu,

    /// <summary>GELU with the tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).</summary>
    GeluTanh,

    /// <summary>SiLU (swish): x * sigmoid(x).</summary>
    Silu,
}
