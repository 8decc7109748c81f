using Candle.Compiler.Gpu.Kernels;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// The f16 conversions of the hardware-half kernels against the exact integer ones (<see cref="GpuMath.F16ToF32"/>,
/// <see cref="GpuMath.F32ToF16"/>) and <see cref="System.Half"/>: every half widened, and floats around every half
/// boundary (ties, subnormals, overflow, infinities, NaN) plus a sweep of the whole float range narrowed.
/// </summary>
public sealed class HalfConversionTests
{
    [Fact]
    public void EveryHalfWidensExactly()
    {
        for (int h = 0; h < 0x10000; h++)
        {
            float expected = GpuMath.F16ToF32((ushort)h);
            float actual = GpuMath.HalfToF32((ushort)h);
            if (float.IsNaN(expected))
            {
                Assert.True(float.IsNaN(actual), $"0x{h:X4}");
                continue;
            }

            Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(actual));
            Assert.Equal(BitConverter.SingleToInt32Bits((float)BitConverter.UInt16BitsToHalf((ushort)h)), BitConverter.SingleToInt32Bits(actual));
        }
    }

    [Fact]
    public void NarrowingMatchesTheExactConversionAtEveryBoundaryAndAcrossTheRange()
    {
        static void Check(uint bits)
        {
            float v = BitConverter.UInt32BitsToSingle(bits);
            ushort expected = GpuMath.F32ToF16(v);
            ushort actual = GpuMath.F32ToHalf(v);
            Assert.True(expected == actual, $"0x{bits:X8} ({v}): 0x{actual:X4}, expected 0x{expected:X4}");
            if (!float.IsNaN(v)) Assert.Equal(BitConverter.HalfToUInt16Bits((Half)v), actual);
        }

        // Every half's float value, the values half an ulp either side of it (ties) and one float ulp off those.
        for (uint h = 0; h < 0x10000; h++)
        {
            float f = GpuMath.F16ToF32((ushort)h);
            if (float.IsNaN(f)) continue;
            uint b = BitConverter.SingleToUInt32Bits(f);
            foreach (int d in new[] { -1, 0, 1 }) Check((uint)(b + d));
            uint exp = (b >> 23) & 0xFF;
            uint half = exp > 112 ? 1u << 12 : exp > 0 ? 1u << (int)Math.Min(22, 125 - exp) : 0u;
            foreach (uint t in new[] { b + half, b - half, b + half + 1, b + half - 1, b - half + 1, b - half - 1 }) Check(t);
        }

        // A sweep over every float exponent and sign.
        for (ulong bits = 0; bits <= uint.MaxValue; bits += 65521) Check((uint)bits);
        foreach (uint special in new uint[] { 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00001, 0x7F800001, 0x477FEFFF, 0x477FF000, 0x47800000, 0x33000000, 0x33000001, 0x32FFFFFF, 0x38800000, 0x387FFFFF })
        {
            Check(special);
        }
    }
}
