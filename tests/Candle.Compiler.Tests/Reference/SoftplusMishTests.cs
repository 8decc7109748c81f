using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Compiler.Tests.Cpu;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Reference;

/// <summary>
/// softplus and mish against hand-computed values (ln(1 + eˣ) through log1p, tanh), through the reference
/// interpreter and the scalar fallback kernel (float64 runs there), across the threshold and far below zero.
/// </summary>
public class SoftplusMishTests
{
    private static readonly double[] Xs = [0, 1, -1, 2.5, -5, 19.5, 20, 20.5, 25, -30, -50, -800];

    // ln(1 + eˣ) (x above 20: x), then x·tanh of it, evaluated with Python's math.log1p/exp/tanh.
    private static readonly double[] SoftplusValues =
    [
        0.6931471805599453, 1.3132616875182228, 0.31326168751822286, 2.5788897342925496, 0.006715348489118068,
        19.500000003398267, 20.000000002061153, 20.5, 25, 9.357622968839737e-14, 1.9287498479639178e-22, 0,
    ];

    private static readonly double[] MishValues =
    [
        0, 0.8650983882673103, -0.30340146137410895, 2.471392304557881, -0.033576237730161704,
        19.5, 20, 20.5, 25, -2.807286890651921e-12, -9.643749239819589e-21, 0,
    ];

    public static TheoryData<Op> Ops() => new() { Op.Softplus, Op.Mish };

    [Theory]
    [MemberData(nameof(Ops))]
    public void ReferenceAndFallbackMatchHandValues(Op op)
    {
        double[] expected = op == Op.Softplus ? SoftplusValues : MishValues;
        var x = Input("x", DType.F64, new Shape(Xs.Length));
        var g = new Graph([x], [Unary(op, x)]);
        HostTensor[] inputs = [HostTensor.FromArray(Xs, Xs.Length)];
        var reference = ReferenceInterpreter.Run(g, inputs)[0].ToFloat64();
        var fallback = CpuHarness.Compile(g).Run(inputs)[0].ToFloat64();
        for (int i = 0; i < Xs.Length; i++)
        {
            Assert.Equal(expected[i], reference[i], Math.Abs(expected[i]) * 1e-14);
            Assert.Equal(expected[i], fallback[i], Math.Abs(expected[i]) * 1e-14);
        }
    }

    [Fact]
    public void SoftplusIsLinearAboveTheThresholdAndPromotesIntegers()
    {
        var x = Input("x", DType.I64, new Shape(3));
        var g = new Graph([x], [Unary(Op.Softplus, x)]);
        Assert.Equal(DType.F32, g.Outputs[0].DType);
        var r = ReferenceInterpreter.Run(g, [HostTensor.FromArray(new long[] { 21, 100, 0 }, 3)])[0].ToFloat32();
        Assert.Equal([21f, 100f, (float)Math.Log(2)], r);
    }
}
