namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// What a fused few-row product (<see cref="FusedGemvKernels.NormGemv{TS, TR, TA, TC, TCS}"/>) makes of a warp's two
/// weight rows: two output columns (<see cref="NoGate"/>), or one, act(gate) · up, the gated linear unit of a gate row
/// and an up row (a SwiGLU's silu, or gelu).
/// </summary>
internal interface IGateActivation
{
    /// <summary>Whether the two rows are a gate and an up row whose product is one output column.</summary>
    bool Gated { get; }

    /// <summary>The activation of the gate row's value.</summary>
    float Apply(float gate);
}

/// <summary>Two output columns a warp.</summary>
internal readonly struct NoGate : IGateActivation
{
    public bool Gated => false;

    public float Apply(float gate) => gate;
}

/// <summary>silu(gate) · up.</summary>
internal readonly struct SiluGate : IGateActivation
{
    public bool Gated => true;

    public float Apply(float gate) => GpuMath.Silu(gate);
}

/// <summary>gelu(gate) · up (the erf form).</summary>
internal readonly struct GeluGate : IGateActivation
{
    public bool Gated => true;

    public float Apply(float gate) => GpuMath.Gelu(gate);
}

/// <summary>gelu(gate) · up (the tanh approximation).</summary>
internal readonly struct GeluTanhGate : IGateActivation
{
    public bool Gated => true;

    public float Apply(float gate) => GpuMath.GeluTanh(gate);
}
