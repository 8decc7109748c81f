using System.Runtime.InteropServices;
using Candle.Runtime.Kernels.Cpu;
using Candle.Runtime.Kernels.Cpu.Ops;

namespace Candle.Runtime.Tests.Lanes;

/// <summary>The interpreted elementwise kernel on hand-built bodies (expected values by hand) and on malformed arguments.</summary>
public sealed unsafe class ElementwiseInterpreterTests
{
    private const int In = ElementwiseInterpreter.InputCode;
    private const int Const = ElementwiseInterpreter.ConstantCode;

    private static long Bits(double v) => BitConverter.DoubleToInt64Bits(v);

    // out[i, j] = x[i, j] * b[j] + 1 over a 2x3 f32 x and a broadcast b (stride 0 along rows), stored as f32.
    private static long[] MulAddArgs() =>
    [
        2, 2, 5, 0, (long)DType.F32,
        1, 2, (long)DType.F32, (long)DType.F32,
        2, 3,
        0, 3, 1,
        0, 0, 1,
        In, (long)DType.F32, 0, -1, -1, 0,
        In, (long)DType.F32, 1, -1, -1, 0,
        MulOp.Code, (long)DType.F32, 0, 1, -1, 0,
        Const, (long)DType.F32, -1, -1, -1, Bits(1.0),
        AddOp.Code, (long)DType.F32, 2, 3, -1, 0,
    ];

    [Fact]
    public void BroadcastMultiplyAddIsComputedElementByElement()
    {
        float[] x = [1, 2, 3, 4, 5, 6], b = [10, 20, 30], y = new float[6];
        fixed (float* px = x, pb = b, py = y)
        {
            nint[] slots = [(nint)py, (nint)px, (nint)pb];
            ElementwiseInterpreter.Run(slots, MulAddArgs(), 0, 6);
        }

        Assert.Equal([11f, 41f, 91f, 41f, 101f, 181f], y);
    }

    [Fact]
    public void CastToF16AndComparisonToBoolRoundLikeTheirStorage()
    {
        // out = (x > 0.5) stored as bool, and cast(x, f16) stored as f16.
        float[] x = [0.1f, 0.7f, 1.0009765625f + 0.0001f];
        var flags = new byte[3];
        var halves = new Half[3];
        fixed (float* px = x)
        fixed (byte* pf = flags)
        fixed (Half* ph = halves)
        {
            nint[] slots = [(nint)pf, (nint)px, (nint)ph];
            long[] gt =
            [
                1, 1, 3, 0, (long)DType.Bool, 1, (long)DType.F32, 3, 0, 1,
                In, (long)DType.F32, 0, -1, -1, 0,
                Const, (long)DType.F32, -1, -1, -1, Bits(0.5),
                GtOp.Code, (long)DType.Bool, 0, 1, -1, 0,
            ];
            ElementwiseInterpreter.Run(slots, gt, 0, 3);
            long[] cast =
            [
                1, 1, 2, 2, (long)DType.F16, 1, (long)DType.F32, 3, 0, 1,
                In, (long)DType.F32, 0, -1, -1, 0,
                CastOp.Code, (long)DType.F16, 0, -1, -1, 0,
            ];
            ElementwiseInterpreter.Run(slots, cast, 0, 3);
        }

        Assert.Equal([0, 1, 1], flags);
        Assert.Equal([(Half)0.1f, (Half)0.7f, (Half)1.0009765625f], halves);
    }

    [Theory]
    [InlineData(0, 99, "input count")]
    [InlineData(31, 2, "refers to op 2")]
    [InlineData(29, 77, "code 77")]
    [InlineData(4, 99, "dtype code 99")]
    [InlineData(3, 7, "slot 7")]
    public void MalformedArgumentsAreRejectedWithAMessage(int index, long value, string expected)
    {
        var args = MulAddArgs();
        args[index] = value;
        float[] x = new float[6], b = new float[3], y = new float[6];
        fixed (float* px = x, pb = b, py = y)
        {
            nint[] slots = [(nint)py, (nint)px, (nint)pb];
            var e = Assert.ThrowsAny<Exception>(() => ElementwiseInterpreter.Run(slots, args, 0, 6));
            Assert.True(e is ArgumentException or KeyNotFoundException, e.ToString());
            Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        }
    }
}
