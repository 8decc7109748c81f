using System.Runtime.CompilerServices;

namespace Candle.Runtime.Tensors;

/// <summary>Conversions between <see cref="float"/> and bfloat16 bit patterns (round to nearest even, NaN kept quiet).</summary>
public static class BFloat16Bits
{
    /// <summary>Rounds a float to the nearest bfloat16 and returns its 16 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromSingle(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000)
        {
            return (ushort)((bits >> 16) | 0x0040); // quiet NaN
        }

        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    /// <summary>Widens bfloat16 bits to a float (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);
}
