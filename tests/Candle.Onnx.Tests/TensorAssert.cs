using Candle.Runtime.Tensors;

namespace Candle.Onnx.Tests;

/// <summary>ONNX's backend-test comparison: same dtype and shape, |a - b| ≤ atol + rtol·|b| elementwise, NaN matches NaN.</summary>
internal static class TensorAssert
{
    public static void Close(HostTensor expected, HostTensor actual, string what, double rtol = 1e-3, double atol = 1e-7)
    {
        Assert.True(expected.DType == actual.DType, $"{what}: dtype {actual.DType}, expected {expected.DType}");
        Assert.True(expected.Shape.SequenceEqual(actual.Shape), $"{what}: shape [{string.Join(", ", actual.Shape)}], expected [{string.Join(", ", expected.Shape)}]");
        for (long i = 0; i < expected.ElementCount; i++)
        {
            double b = expected.GetDouble(i), a = actual.GetDouble(i);
            if (double.IsNaN(b) && double.IsNaN(a)) continue;
            if (a == b) continue;
            Assert.True(Math.Abs(a - b) <= atol + (rtol * Math.Abs(b)), $"{what}: element {i} is {a}, expected {b}");
        }
    }
}
