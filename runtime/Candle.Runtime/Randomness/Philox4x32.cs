using System.Runtime.CompilerServices;

namespace Candle.Runtime.Randomness;

/// <summary>
/// The counter-based generator Philox-4x32-10 (J. K. Salmon, M. A. Moraes, R. O. Dror, D. E. Shaw, "Parallel random
/// numbers: as easy as 1, 2, 3", SC 2011; the Random123 library): ten rounds of a keyed bijection of a 128-bit counter,
/// so every output is a pure function of (key, counter) and any element can be computed alone, in any order, on any
/// device. <see cref="Uniform(long, long, long)"/> defines the uniform floats of the IR's <c>random_uniform</c> op: key =
/// the 64-bit seed (low word first), counter = (element index / 4 as 64 bits, stream as 64 bits), the output word
/// index mod 4, and the float32 from that word's top 24 bits, in [0, 1).
/// </summary>
public static class Philox4x32
{
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57;
    private const uint W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>The four output words of Philox-4x32-10 for counter (c0, c1, c2, c3) and key (k0, k1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (uint X0, uint X1, uint X2, uint X3) Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            if (round > 0)
            {
                k0 += W0;
                k1 += W1;
            }

            ulong p0 = (ulong)M0 * c0, p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0, hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0);
        }

        return (c0, c1, c2, c3);
    }

    /// <summary>The float in [0, 1) of a 32-bit output word: its top 24 bits times 2⁻²⁴ (exact in float32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToUnitFloat(uint word) => (word >> 8) * (1.0f / (1 << 24));

    /// <summary>Element <paramref name="index"/> of the uniform stream <paramref name="stream"/> under <paramref name="seed"/>.</summary>
    public static float Uniform(long seed, long stream, long index)
    {
        var (x0, x1, x2, x3) = Block((uint)((ulong)index >> 2), (uint)((ulong)index >> 34), (uint)stream, (uint)((ulong)stream >> 32), (uint)seed, (uint)((ulong)seed >> 32));
        return ToUnitFloat((index & 3) switch { 0 => x0, 1 => x1, 2 => x2, _ => x3 });
    }

    /// <summary>
    /// Writes elements <paramref name="first"/> .. <paramref name="first"/> + <paramref name="dst"/>.Length − 1 of the
    /// uniform stream into <paramref name="dst"/>, one generator block per four elements.
    /// </summary>
    public static void FillUniform(Span<float> dst, long seed, long stream, long first)
    {
        uint k0 = (uint)seed, k1 = (uint)((ulong)seed >> 32), s0 = (uint)stream, s1 = (uint)((ulong)stream >> 32);
        long end = first + dst.Length;
        long i = first;
        while (i < end)
        {
            long block = i >> 2;
            var (x0, x1, x2, x3) = Block((uint)block, (uint)((ulong)block >> 32), s0, s1, k0, k1);
            for (long j = block << 2, stop = Math.Min(end, (block << 2) + 4); j < stop; j++)
            {
                if (j < i) continue;
                dst[(int)(j - first)] = ToUnitFloat((j & 3) switch { 0 => x0, 1 => x1, 2 => x2, _ => x3 });
            }

            i = (block << 2) + 4;
        }
    }
}
