using Candle.Runtime.Randomness;
using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>Counter-based random numbers: each thread computes its element from seed, stream and index alone.</summary>
internal static class RandomKernels
{
    /// <summary>
    /// y[i] = <see cref="Philox4x32.Uniform(long, long, long)"/>(seed[0], stream, i): the generator block of i / 4, its
    /// word i mod 4, the top 24 bits times 2⁻²⁴ (the CPU's and the reference interpreter's definition, bit for bit).
    /// </summary>
    public static void Uniform(Index1D index, ArrayView<float> y, ArrayView<long> seed, long stream)
    {
        long i = index.X;
        long s = seed[0];
        var (x0, x1, x2, x3) = Philox4x32.Block((uint)(i >> 2), (uint)(i >> 34), (uint)stream, (uint)(stream >> 32), (uint)s, (uint)(s >> 32));
        long lane = i & 3;
        uint word = lane == 0 ? x0 : lane == 1 ? x1 : lane == 2 ? x2 : x3;
        y[index] = Philox4x32.ToUnitFloat(word);
    }
}
