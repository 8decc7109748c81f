using Candle.Runtime.Kernels.Cpu.Args;
using Candle.Runtime.Randomness;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>Counter-based random numbers (<see cref="Philox4x32"/>): every element is a pure function of seed, stream and index.</summary>
public static unsafe class RandomKernels
{
    /// <summary>Uniform float32 in [0, 1); arguments: <see cref="RandomUniformArgs{T}"/>. Work items are elements.</summary>
    public static void Uniform(nint[] slots, long[] a, long start, long end)
    {
        var p = RandomUniformArgs.Read(a);
        long seed = *(long*)slots[p.Seed];
        float* dst = (float*)slots[p.Dst];
        const long Chunk = 1 << 20;
        for (long i = start; i < end; i += Chunk)
        {
            int n = (int)Math.Min(Chunk, end - i);
            Philox4x32.FillUniform(new Span<float>(dst + i, n), seed, p.Stream, i);
        }
    }
}
