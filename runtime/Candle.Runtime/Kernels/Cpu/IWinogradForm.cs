using System.Runtime.Intrinsics;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// One of Winograd's minimal filtering algorithms F(m×m, 3×3) for <see cref="ConvWinograd"/>: the output tile side m,
/// the input patch side m + 2, and the three transforms B<sup>T</sup> (input), G (weight) and A<sup>T</sup> (output),
/// each applied to one dim at a time on vectors of 8 tiles.
/// </summary>
internal unsafe interface IWinogradForm
{
    /// <summary>Output tile side m.</summary>
    static abstract int Tile { get; }

    /// <summary>Input patch side m + 2 (the transform's positions per dim).</summary>
    static abstract int Patch { get; }

    /// <summary>G (Patch × 3).</summary>
    static abstract double[,] G { get; }

    /// <summary>B<sup>T</sup> applied to <see cref="Patch"/> vectors d (at stride <paramref name="ds"/>), written to r (stride <paramref name="rs"/>).</summary>
    static abstract void Input(Vector256<float>* d, int ds, Vector256<float>* r, long rs);

    /// <summary>A<sup>T</sup> applied to <see cref="Patch"/> vectors m (at stride <paramref name="ms"/>), written to o (stride <paramref name="os"/>).</summary>
    static abstract void Output(Vector256<float>* m, long ms, Vector256<float>* o, int os);
}
