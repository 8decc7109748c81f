namespace Candle.Runtime.Kernels.Cpu.Vectors;

/// <summary>
/// float32 SIMD lanes as a static-abstract trait, so a row kernel is written once and specialized by the JIT for
/// 256-bit (<see cref="F32x8"/>) or 512-bit (<see cref="F32x16"/>) vectors.
/// </summary>
/// <typeparam name="TVec">The vector type.</typeparam>
public unsafe interface IF32Vector<TVec>
    where TVec : struct
{
    /// <summary>Number of lanes.</summary>
    static abstract int Count { get; }

    /// <summary>All lanes zero.</summary>
    static abstract TVec Zero { get; }

    /// <summary>Loads Count floats.</summary>
    static abstract TVec Load(float* p);

    /// <summary>Stores Count floats.</summary>
    static abstract void Store(TVec v, float* p);

    /// <summary>Every lane <paramref name="x"/>.</summary>
    static abstract TVec Splat(float x);

    /// <summary>a + b.</summary>
    static abstract TVec Add(TVec a, TVec b);

    /// <summary>a − b.</summary>
    static abstract TVec Sub(TVec a, TVec b);

    /// <summary>a · b.</summary>
    static abstract TVec Mul(TVec a, TVec b);

    /// <summary>a · b + c, fused.</summary>
    static abstract TVec Fma(TVec a, TVec b, TVec c);

    /// <summary>The larger lane (the processor's instruction: NaN handling unspecified).</summary>
    static abstract TVec MaxNative(TVec a, TVec b);

    /// <summary>The smaller lane (the processor's instruction: NaN handling unspecified).</summary>
    static abstract TVec MinNative(TVec a, TVec b);

    /// <summary>All-ones lanes where the lane is NaN.</summary>
    static abstract TVec IsNaN(TVec v);

    /// <summary>True when any lane has any bit set.</summary>
    static abstract bool Any(TVec mask);

    /// <summary>Sum of the lanes.</summary>
    static abstract float Sum(TVec v);

    /// <summary>Largest lane.</summary>
    static abstract float Max(TVec v);

    /// <summary>e^x (see <see cref="FastExp"/> for the error bound).</summary>
    static abstract TVec Exp(TVec x);
}
