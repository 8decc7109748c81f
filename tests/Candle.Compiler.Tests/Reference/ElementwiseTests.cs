using System.Numerics.Tensors;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using CsCheck;
using static Candle.Compiler.Tests.Reference.Ref;

namespace Candle.Compiler.Tests.Reference;

public class ElementwiseTests
{
    private static readonly float[] Xs = [-3.5f, -1f, -0.25f, 0f, 0.5f, 1f, 2.75f, 6f];

    public static TheoryData<Op> TensorPrimitivesOps => [Op.Exp, Op.Tanh, Op.Sigmoid, Op.Sin, Op.Cos, Op.Abs, Op.Neg];

    [Theory]
    [MemberData(nameof(TensorPrimitivesOps))]
    public void Float32UnaryMatchesTensorPrimitives(Op op)
    {
        var expected = new float[Xs.Length];
        switch (op)
        {
            case Op.Exp: TensorPrimitives.Exp(Xs, expected); break;
            case Op.Tanh: TensorPrimitives.Tanh(Xs, expected); break;
            case Op.Sigmoid: TensorPrimitives.Sigmoid(Xs, expected); break;
            case Op.Sin: TensorPrimitives.Sin(Xs, expected); break;
            case Op.Cos: TensorPrimitives.Cos(Xs, expected); break;
            case Op.Abs: TensorPrimitives.Abs(Xs, expected); break;
            case Op.Neg: TensorPrimitives.Negate(Xs, expected); break;
        }

        var r = Unary(op, F32(Xs, Xs.Length));
        Assert.Equal(DType.F32, r.DType);
        Close(expected, D(r), 1e-6);
    }

    [Fact]
    public void LogSqrtRsqrtReciprocalOfPositives()
    {
        float[] x = [0.25f, 1f, 4f, 9f];
        var t = F32(x, 4);
        var log = new float[4];
        TensorPrimitives.Log(x, log);
        Close(log, D(Unary(Op.Log, t)), 1e-6);
        Close(new[] { 0.5, 1, 2, 3 }, D(Unary(Op.Sqrt, t)), 0);
        Close(new[] { 2, 1, 0.5, 1 / 3.0 }, D(Unary(Op.Rsqrt, t)), 1e-7);
        Close(new[] { 4, 1, 0.25, 1 / 9.0 }, D(Unary(Op.Reciprocal, t)), 1e-7);
    }

    [Fact]
    public void GeluVariantsAndSiluFollowTheirFormulas()
    {
        var t = F64([-1, 0, 1, 2], 4);
        // Φ(1) = 0.8413447460685429 (standard normal CDF), Φ(−1) = 0.15865525393145707, Φ(2) = 0.9772498680518208
        Close(new[] { -0.15865525393145707, 0, 0.8413447460685429, 2 * 0.9772498680518208 }, D(Unary(Op.Gelu, t)), 1e-15);
        double GeluTanh(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + (0.044715 * x * x * x))));
        Close(new[] { GeluTanh(-1), 0, GeluTanh(1), GeluTanh(2) }, D(Unary(Op.GeluTanh, t)), 1e-15);
        Close(new[] { -1 / (1 + Math.E), 0, 1 / (1 + (1 / Math.E)), 2 / (1 + Math.Exp(-2)) }, D(Unary(Op.Silu, t)), 1e-15);
        Close(new[] { 0.0, 0, 1, 2 }, D(Unary(Op.Relu, t)), 0);
    }

    [Fact]
    public void RoundingOpsRoundHalfToEvenAndSignKeepsNaN()
    {
        var t = F32([-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 1.2f, float.NaN], 8);
        Close(new[] { -2.0, -2, -0, 0, 2, 2, 1, double.NaN }, D(Unary(Op.Round, t)), 0);
        Close(new[] { -3.0, -2, -1, 0, 1, 2, 1, double.NaN }, D(Unary(Op.Floor, t)), 0);
        Close(new[] { -2.0, -1, -0, 1, 2, 3, 2, double.NaN }, D(Unary(Op.Ceil, t)), 0);
        Close(new[] { -1.0, -1, -1, 1, 1, 1, 1, double.NaN }, D(Unary(Op.Sign, t)), 0);
        Close(new[] { 0.0, 0, 0, 0.5, 1.5, 2.5, 1.2f, double.NaN }, D(Unary(Op.Relu, t)), 1e-7);
    }

    [Fact]
    public void IntegerNegAndAbsWrap()
    {
        var i8 = HostTensor.FromArray(new sbyte[] { -128, -5, 0, 127 }, 4);
        Assert.Equal(new long[] { -128, 5, 0, -127 }, L(Unary(Op.Neg, i8)));
        Assert.Equal(new long[] { -128, 5, 0, 127 }, L(Unary(Op.Abs, i8)));
        var u8 = HostTensor.FromArray(new byte[] { 0, 1, 200 }, 3);
        Assert.Equal(new long[] { 0, 255, 56 }, L(Unary(Op.Neg, u8)));
        var i64 = I64([long.MinValue, -3, 4], 3);
        Assert.Equal(new long[] { long.MinValue, 3, -4 }, L(Unary(Op.Neg, i64)));
        Assert.Equal(new long[] { -1, -1, 1 }, L(Unary(Op.Sign, i64)));
    }

    [Fact]
    public void LogicalNot()
    {
        var b = HostTensor.FromArray(new[] { true, false }, 2);
        Assert.Equal(new long[] { 0, 1 }, L(Unary(Op.LogicalNot, b)));
    }

    [Fact]
    public void CastTruncatesTowardZeroAndWraps()
    {
        var f = F32([-2.7f, -0.5f, 0.5f, 2.7f, 300f, float.NaN], 6);
        Assert.Equal(new long[] { -2, 0, 0, 2, 300, long.MinValue }, L(Run(i => IrBuilder.Cast(i[0], DType.I64), f)));
        Assert.Equal(new long[] { 254, 0, 0, 2, 44, 0 }, L(Run(i => IrBuilder.Cast(i[0], DType.U8), f))); // wrapped mod 256; NaN → long.MinValue → 0
        Assert.Equal(new long[] { -2, 0, 0, 2, 300, 0 }, L(Run(i => IrBuilder.Cast(i[0], DType.I32), f))); // long.MinValue wraps to 0
        Assert.Equal(new long[] { 1, 1, 1, 1, 1, 1 }, L(Run(i => IrBuilder.Cast(i[0], DType.Bool), f))); // NaN != 0
        var z = F32([0f, -0f, 1f], 3);
        Assert.Equal(new long[] { 0, 0, 1 }, L(Run(i => IrBuilder.Cast(i[0], DType.Bool), z)));
        var b = HostTensor.FromArray(new[] { true, false }, 2);
        Assert.Equal(new[] { 1.0, 0.0 }, D(Run(i => IrBuilder.Cast(i[0], DType.F16), b)));
        var big = I64([257, -1, 1L << 40], 3);
        Assert.Equal(new long[] { 1, 255, 0 }, L(Run(i => IrBuilder.Cast(i[0], DType.U8), big)));
        Assert.Equal(new long[] { 1, -1, 0 }, L(Run(i => IrBuilder.Cast(i[0], DType.I8), big)));
    }

    [Fact]
    public void HalfPrecisionRoundsOncePerOp()
    {
        // 1 + 2^-11 is halfway between two f16 values (spacing 2^-10 near 1): round to even gives 1.
        var a = Of(DType.F16, [1.0, 1.0], 2);
        var b = Of(DType.F16, [Math.Pow(2, -11), 3 * Math.Pow(2, -11)], 2);
        var r = Binary(Op.Add, a, b);
        Assert.Equal(DType.F16, r.DType);
        Assert.Equal(new[] { 1.0, 1 + Math.Pow(2, -9) }, D(r)); // 1 + 3·2^-11 rounds up to 1 + 4·2^-11
        // bf16: 8 bits of mantissa; 1 + 2^-8 is halfway → 1, 1 + 3·2^-8 → 1 + 2^-6
        var c = Of(DType.BF16, [1.0, 1.0], 2);
        var d = Of(DType.BF16, [Math.Pow(2, -8), 3 * Math.Pow(2, -8)], 2);
        Assert.Equal(new[] { 1.0, 1 + Math.Pow(2, -6) }, D(Binary(Op.Add, c, d)));
        // an op computed in double then rounded: exp(1) in f16 is 2.71875 (nearest f16 to e)
        Assert.Equal(2.71875, D(Unary(Op.Exp, Of(DType.F16, [1.0], 1)))[0]);
    }

    public static TheoryData<DType> AllNumeric => [DType.F32, DType.F16, DType.BF16, DType.F64, DType.I64, DType.I32, DType.I8, DType.U8];

    [Theory]
    [MemberData(nameof(AllNumeric))]
    public void ArithmeticInEveryDType(DType dt)
    {
        var a = Of(dt, [1, 2, 3, 4, 5, 50], 6);
        var b = Of(dt, [4, 3, 2, 1, 5, 2], 6);
        Assert.Equal(dt, Binary(Op.Add, a, b).DType);
        Assert.Equal(new[] { 5.0, 5, 5, 5, 10, 52 }, D(Binary(Op.Add, a, b)));
        Assert.Equal(new[] { 4.0, 6, 6, 4, 25, 100 }, D(Binary(Op.Mul, a, b)));
        Assert.Equal(new[] { 4.0, 3, 3, 4, 5, 50 }, D(Binary(Op.Maximum, a, b)));
        Assert.Equal(new[] { 1.0, 2, 2, 1, 5, 2 }, D(Binary(Op.Minimum, a, b)));
        Assert.Equal(new[] { 0.0, 0, 1, 4, 1, 25 }, D(Binary(Op.FloorDiv, a, b)));
        Assert.Equal(new[] { 1.0, 2, 1, 0, 0, 0 }, D(Binary(Op.Remainder, a, b)));

        // 5^5 = 3125 and 50^2 = 2500, rounded or wrapped to the dtype
        (double P5, double P6) = dt switch
        {
            DType.F16 => (3124, 2500), // spacing 2 in [2048, 4096): 3125 ties to even
            DType.BF16 => (3120, 2496), // spacing 16 in [2048, 4096)
            DType.I8 => (53, -60), // 3125 mod 256 = 53, 2500 mod 256 = 196 = −60 as int8
            DType.U8 => (53, 196),
            _ => (3125, 2500),
        };
        Assert.Equal(new[] { 1.0, 8, 9, 4, P5, P6 }, D(Binary(Op.Pow, a, b)));
        Assert.Equal(new long[] { 1, 1, 0, 0, 1, 0 }, L(Binary(Op.Le, a, b)));
        Assert.Equal(new long[] { 0, 0, 0, 0, 1, 0 }, L(Binary(Op.Eq, a, b)));
    }

    [Fact]
    public void IntegerArithmeticWrapsToTheDType()
    {
        var a = HostTensor.FromArray(new sbyte[] { 100, -100 }, 2);
        Assert.Equal(new long[] { -56, 56 }, L(Binary(Op.Add, a, a)));
        var u = HostTensor.FromArray(new byte[] { 1, 200 }, 2);
        var v = HostTensor.FromArray(new byte[] { 2, 100 }, 2);
        Assert.Equal(new long[] { 255, 100 }, L(Binary(Op.Sub, u, v)));
        var i = HostTensor.FromArray(new[] { int.MaxValue }, 1);
        Assert.Equal(new long[] { int.MinValue }, L(Run(x => IrBuilder.Binary(Op.Add, x[0], 1.0), i)));
    }

    [Fact]
    public void FloorDivisionAndRemainderOfNegativeNumbers()
    {
        var a = I64([-7, 7, -7, 7], 4);
        var b = I64([2, -2, -2, 2], 4);
        Assert.Equal(new long[] { -4, -4, 3, 3 }, L(Binary(Op.FloorDiv, a, b)));
        Assert.Equal(new long[] { 1, -1, -1, 1 }, L(Binary(Op.Remainder, a, b)));
        var fa = F32([-7, 7, -7, 7.5f], 4);
        var fb = F32([2, -2, -2, -2], 4);
        Assert.Equal(new[] { -4.0, -4, 3, -4 }, D(Binary(Op.FloorDiv, fa, fb)));
        Assert.Equal(new[] { 1.0, -1, -1, -0.5 }, D(Binary(Op.Remainder, fa, fb)));
        var i32 = HostTensor.FromArray(new[] { -7, int.MinValue }, 2);
        var m1 = HostTensor.FromArray(new[] { 2, -1 }, 2);
        Assert.Equal(new long[] { -4, int.MinValue }, L(Binary(Op.FloorDiv, i32, m1)));
    }

    [Fact]
    public void IntegerDivisionByZeroNamesTheOp()
    {
        var a = I64([1, 2], 2);
        var z = I64([1, 0], 2);
        var e = Assert.Throws<DivideByZeroException>(() => Binary(Op.FloorDiv, a, z));
        Assert.Contains("floor_div", e.Message, StringComparison.Ordinal);
        var r = Assert.Throws<DivideByZeroException>(() => Binary(Op.Remainder, a, z));
        Assert.Contains("remainder", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IntegerPowerWithNegativeExponentIsAnError()
    {
        var e = Assert.Throws<ArithmeticException>(() => Binary(Op.Pow, I64([2, 2], 2), I64([1, -1], 2)));
        Assert.Contains("pow", e.Message, StringComparison.Ordinal);
        Assert.Equal(new[] { 0.5, 8 }, D(Binary(Op.Pow, F32([2, 2], 2), F32([-1, 3], 2))));
    }

    [Fact]
    public void TrueDivisionOfIntegersGivesFloat()
    {
        var r = Binary(Op.Div, I64([7, -7, 1], 3), I64([2, 2, 0], 3));
        Assert.Equal(DType.F32, r.DType);
        Assert.Equal(new[] { 3.5, -3.5, double.PositiveInfinity }, D(r));
    }

    [Fact]
    public void NaNPropagatesThroughMaximumMinimumAndComparisonsAreFalse()
    {
        var a = F32([float.NaN, 1, 2], 3);
        var b = F32([0, float.NaN, 1], 3);
        Close(new[] { double.NaN, double.NaN, 2 }, D(Binary(Op.Maximum, a, b)), 0);
        Close(new[] { double.NaN, double.NaN, 1 }, D(Binary(Op.Minimum, a, b)), 0);
        Assert.Equal(new long[] { 0, 0, 0 }, L(Binary(Op.Eq, a, b)));
        Assert.Equal(new long[] { 1, 1, 1 }, L(Binary(Op.Ne, a, b)));
        Assert.Equal(new long[] { 0, 0, 1 }, L(Binary(Op.Gt, a, b)));
        Assert.Equal(new long[] { 0, 0, 0 }, L(Binary(Op.Lt, a, b)));
        Assert.Equal(new long[] { 0, 0, 1 }, L(Binary(Op.Ge, a, b)));
        Close(new[] { double.NaN, double.NaN, 3 }, D(Binary(Op.Add, a, b)), 0);
    }

    [Fact]
    public void LogicalOpsAndBoolArithmetic()
    {
        var a = HostTensor.FromArray(new[] { true, true, false, false }, 4);
        var b = HostTensor.FromArray(new[] { true, false, true, false }, 4);
        Assert.Equal(new long[] { 1, 0, 0, 0 }, L(Binary(Op.LogicalAnd, a, b)));
        Assert.Equal(new long[] { 1, 1, 1, 0 }, L(Binary(Op.LogicalOr, a, b)));
        var sum = Run(i => Node.Create(Op.Add, null, i[0], i[1]), a, b);
        Assert.Equal(DType.Bool, sum.DType);
        Assert.Equal(new long[] { 1, 1, 1, 0 }, L(sum));
        Assert.Equal(new long[] { 1, 0, 0, 0 }, L(Run(i => Node.Create(Op.Mul, null, i[0], i[1]), a, b)));
    }

    [Fact]
    public void BroadcastingThroughTheBuilder()
    {
        var col = F32([1, 2, 3], 3, 1);
        var row = F32([10, 20], 2);
        var r = Binary(Op.Add, col, row);
        Assert.Equal([3, 2], r.ShapeArray());
        Assert.Equal(new[] { 11.0, 21, 12, 22, 13, 23 }, D(r));
        var mixed = Binary(Op.Mul, I64([1, 2, 3], 3, 1), Of(DType.F16, [0.5], 1));
        Assert.Equal(DType.F16, mixed.DType);
        Assert.Equal(new[] { 0.5, 1, 1.5 }, D(mixed));
        var scalar = Run(i => IrBuilder.Binary(Op.Sub, i[0], 1.5), I64([1, 2], 2));
        Assert.Equal(DType.F32, scalar.DType);
        Assert.Equal(new[] { -0.5, 0.5 }, D(scalar));
    }

    [Fact]
    public void WhereSelectsPerElementWithBroadcasting()
    {
        var cond = HostTensor.FromArray(new[] { true, false, true }, 3);
        var r = Run(i => IrBuilder.Where(i[0], i[1], i[2]), cond, F32([1, 2, 3], 3), F32([-1], 1));
        Assert.Equal(new[] { 1.0, -1, 3 }, D(r));
        var ri = Run(i => IrBuilder.Where(i[0], i[1], i[2]), cond, I64([1, 2, 3], 3), I64([-9], 1));
        Assert.Equal(new long[] { 1, -9, 3 }, L(ri));
    }

    [Fact]
    public void EmptyAndSizeOneDims()
    {
        var e = F32([], 0, 3);
        var r = Binary(Op.Add, e, F32([1, 2, 3], 3));
        Assert.Equal([0, 3], r.ShapeArray());
        Assert.Equal(0, r.ElementCount);
        var one = Binary(Op.Mul, F32([2], 1, 1), F32([3], 1));
        Assert.Equal([1, 1], one.ShapeArray());
        Assert.Equal(6.0, D(one)[0]);
    }

    [Fact]
    public void ElementwiseOnAPermutedView()
    {
        // x is [2, 3]; xᵀ + y with y [3, 2] reads x column by column
        var x = F32([1, 2, 3, 4, 5, 6], 2, 3);
        var y = F32([10, 20, 30, 40, 50, 60], 3, 2);
        var r = Run(i => IrBuilder.Binary(Op.Add, IrBuilder.Transpose(i[0], 0, 1), i[1]), x, y);
        Assert.Equal(new[] { 11.0, 24, 32, 45, 53, 66 }, D(r));
    }

    [Fact]
    public void SubtractingATensorFromItselfGivesZero()
    {
        Gen.Select(Gen.Int[0, 4], Gen.Int[1, 5], Gen.Int[0, 1000]).Sample((rows, cols, seed) =>
        {
            var x = F32(Rand(rows * cols, seed, 100), rows, cols);
            var r = Binary(Op.Sub, x, x);
            Assert.All(D(r), v => Assert.Equal(0.0, v));
        }, iter: 50);
    }

    [Fact]
    public void Float32AddAndMulMatchTensorPrimitivesOnRandomLengths()
    {
        Gen.Select(Gen.Int[0, 257], Gen.Int[0, 1000]).Sample((n, seed) =>
        {
            var a = Rand(n, seed, 10);
            var b = Rand(n, seed + 1, 10);
            var sum = new float[n];
            var prod = new float[n];
            TensorPrimitives.Add(a, b, sum);
            TensorPrimitives.Multiply(a, b, prod);
            Assert.Equal(sum.Select(v => (double)v), D(Binary(Op.Add, F32(a, n), F32(b, n))));
            Assert.Equal(prod.Select(v => (double)v), D(Binary(Op.Mul, F32(a, n), F32(b, n))));
        }, iter: 30);
    }
}
