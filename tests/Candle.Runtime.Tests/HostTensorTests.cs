using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Runtime.Tests;

public class HostTensorTests
{
    [Fact]
    public void Bf16RoundsToNearestEven()
    {
        // 1 + 2^-8 is exactly halfway between two bf16 values (1 and 1 + 2^-7): ties go to the even mantissa (1).
        Assert.Equal(1.0f, BFloat16Bits.ToSingle(BFloat16Bits.FromSingle(1f + 1f / 256)));
        // 1 + 3*2^-8 is halfway between 1+2^-7 (odd) and 1+2^-6 (even): rounds up to 1+2^-6.
        Assert.Equal(1f + 1f / 64, BFloat16Bits.ToSingle(BFloat16Bits.FromSingle(1f + 3f / 256)));
        Assert.True(float.IsNaN(BFloat16Bits.ToSingle(BFloat16Bits.FromSingle(float.NaN))));
    }

    [Fact]
    public void CastFloatToIntTruncatesTowardZero()
    {
        var t = HostTensor.FromArray(new float[] { 1.7f, -1.7f, 0.5f, -0.5f }, 4).Cast(DType.I64);
        Assert.Equal(new long[] { 1, -1, 0, 0 }, t.ToInt64());
    }

    [Fact]
    public void WrongByteLengthNamesShapeAndDtype()
    {
        var ex = Assert.Throws<ArgumentException>(() => new HostTensor(DType.F32, [2, 3], new byte[20]));
        Assert.Contains("[2, 3]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("float32", ex.Message, StringComparison.Ordinal);
    }
}
