using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Passes;

/// <summary>What each pass rewrites, as printed IR written by hand from what the pass must produce.</summary>
public class SnapshotTests
{
    private static readonly Node X = Input("x", DType.F32, Shape.Of(4));
    private static readonly Node Y = Input("y", DType.F32, Shape.Of(4));

    private static string Run(IPass pass, Graph g)
    {
        var after = PassTestKit.RunPass(pass, g);
        PassTestKit.AssertSameResults(g, after);
        return IrPrinter.Print(after);
    }

    [Fact]
    public void AlgebraicMulOnePlusZeroIsX()
    {
        var g = new Graph([X], [Binary(Op.Add, Binary(Op.Mul, X, 1.0), 0.0)]);
        Assert.Equal(
            """
            graph(x: float32[4]) {
              %0 = input(name=x) : float32[4]
              return output0=%0
            }

            """,
            Run(new AlgebraicSimplification(), g));
    }

    [Fact]
    public void AlgebraicNegNegTransposeTransposeAndSubSelf()
    {
        var m = Input("m", DType.F32, Shape.Of(2, 3));
        var tt = Node.Create(Op.Permute, new PermuteAttrs([1, 0]), Node.Create(Op.Permute, new PermuteAttrs([1, 0]), m));
        var g = new Graph([m], [Binary(Op.Add, Unary(Op.Neg, Unary(Op.Neg, tt)), Binary(Op.Sub, m, m))]);
        Assert.Equal(
            """
            graph(m: float32[2, 3]) {
              %0 = input(name=m) : float32[2, 3]
              return output0=%0
            }

            """,
            Run(new AlgebraicSimplification(), g));
    }

    [Fact]
    public void AlgebraicPowTwoAndDivisionByConstant()
    {
        var g = new Graph([X], [Binary(Op.Div, Binary(Op.Pow, X, 2.0), 4.0)]);
        Assert.Equal(
            """
            graph(x: float32[4]) {
              %0 = input(name=x) : float32[4]
              %1 = mul(%0, %0) : float32[4]
              %2 = full(value=0.25) : float32[4]
              %3 = mul(%1, %2) : float32[4]
              return output0=%3
            }

            """,
            Run(new AlgebraicSimplification(), g));
    }

    [Fact]
    public void AlgebraicExactCastChainIsShortenedButLossyOneKept()
    {
        var h = Input("h", DType.F16, Shape.Of(4));
        var g = new Graph([h, X], [Cast(Cast(h, DType.F32), DType.F64), Cast(Cast(X, DType.F16), DType.F32)]);
        Assert.Equal(
            """
            graph(h: float16[4], x: float32[4]) {
              %0 = input(name=h) : float16[4]
              %1 = input(name=x) : float32[4]
              %2 = cast(%0, to=float64) : float64[4]
              %3 = cast(%1, to=float16) : float16[4]
              %4 = cast(%3, to=float32) : float32[4]
              return output0=%2, output1=%4
            }

            """,
            Run(new AlgebraicSimplification(), g));
    }

    [Fact]
    public void ConstantFoldingFoldsFillArithmetic()
    {
        var five = Binary(Op.Add, Scalar(2, DType.F32), Scalar(3, DType.F32));
        var g = new Graph([X], [Binary(Op.Mul, X, five)]);
        Assert.Equal(
            """
            graph(x: float32[4]) {
              %0 = input(name=x) : float32[4]
              %1 = full(value=5) : float32[4]
              %2 = mul(%0, %1) : float32[4]
              return output0=%2
            }

            """,
            Run(new ConstantFolding(), g));
    }

    [Fact]
    public void ConstantFoldingEvaluatesSmallConstantsButNotWeights()
    {
        var c = Constant(HostTensor.FromArray(new float[] { 1, 2, 3, 4 }, 4));
        var w = Constant(HostTensor.FromArray(new float[] { 1, 2, 3, 4 }, 4), "w");
        var g = new Graph([X], [Binary(Op.Add, X, Binary(Op.Mul, c, 2.0)), Binary(Op.Add, X, Binary(Op.Mul, w, 2.0))]);
        var after = PassTestKit.RunPass(new ConstantFolding(), g);
        PassTestKit.AssertSameResults(g, after);
        var folded = after.Outputs[0].Inputs[1];
        Assert.Equal(Op.Constant, folded.Op);
        Assert.Equal(new float[] { 2, 4, 6, 8 }, folded.Attr<ConstantAttrs>().Data.ToFloat32());
        Assert.Equal(Op.Mul, after.Outputs[1].Inputs[1].Op);
    }

    [Fact]
    public void ConstantFoldingRespectsTheSizeLimit()
    {
        var big = Arange(100, DType.F32);
        var g = new Graph([], [Unary(Op.Exp, big)]);
        Assert.Equal(Op.Exp, PassTestKit.RunPass(new ConstantFolding(maxElements: 10), g).Outputs[0].Op);
        Assert.Equal(Op.Constant, PassTestKit.RunPass(new ConstantFolding(maxElements: 100), g).Outputs[0].Op);
    }

    [Fact]
    public void CseMergesSwappedCommutativeOperandsAndEqualConstants()
    {
        var c1 = Constant(HostTensor.FromArray(new float[] { 1, 2, 3, 4 }, 4));
        var c2 = Constant(HostTensor.FromArray(new float[] { 1, 2, 3, 4 }, 4));
        var g = new Graph([X, Y], [Binary(Op.Mul, Binary(Op.Add, X, Y), Binary(Op.Add, Y, X)), Binary(Op.Sub, Binary(Op.Add, X, c1), Binary(Op.Add, X, c2))]);
        Assert.Equal(
            """
            graph(x: float32[4], y: float32[4]) {
              %0 = input(name=x) : float32[4]
              %1 = input(name=y) : float32[4]
              %2 = add(%0, %1) : float32[4]
              %3 = mul(%2, %2) : float32[4]
              %4 = constant(data) : float32[4]
              %5 = add(%0, %4) : float32[4]
              %6 = sub(%5, %5) : float32[4]
              return output0=%3, output1=%6
            }

            """,
            Run(new CommonSubexpressionElimination(), g));
    }

    [Fact]
    public void CanonicalizeMovesConstantsRight()
    {
        var g = new Graph([X], [Binary(Op.Add, Scalar(3, DType.F32), X)]);
        Assert.Equal(
            """
            graph(x: float32[4]) {
              %0 = input(name=x) : float32[4]
              %1 = full(value=3) : float32[4]
              %2 = add(%0, %1) : float32[4]
              return output0=%2
            }

            """,
            Run(new Canonicalize(), g));
    }

    [Fact]
    public void FusionMakesOneElementwiseKernel()
    {
        var g = new Graph([X, Y], [Unary(Op.Relu, Binary(Op.Add, Binary(Op.Mul, X, Y), 1.0))]);
        var after = PassTestKit.RunPass(new Fusion(), g);
        PassTestKit.AssertSameResults(g, after);
        Assert.Equal(
            """
            graph(x: float32[4], y: float32[4]) {
              %0 = input(name=x) : float32[4]
              %1 = input(name=y) : float32[4]
              %2 = fused(%0, %1, kind=elementwise, nodes=6) : float32[4]
              return output0=%2
            }

            """,
            IrPrinter.Print(after));
        Assert.Equal(
            """
            graph(in0: float32[4], in1: float32[4]) {
              %0 = input(name=in0) : float32[4]
              %1 = input(name=in1) : float32[4]
              %2 = mul(%0, %1) : float32[4]
              %3 = full(value=1) : float32[4]
              %4 = add(%2, %3) : float32[4]
              %5 = relu(%4) : float32[4]
              return out=%5
            }

            """,
            IrPrinter.Print(after.Outputs[0].Attr<FusedAttrs>().Body));
    }

    [Fact]
    public void LayoutTurnsTransposedOperandsIntoOneTranspose()
    {
        var a = Input("a", DType.F32, Shape.Of(3, 2));
        var b = Input("b", DType.F32, Shape.Of(4, 3));
        var g = new Graph([a, b], [MatMul(Transpose(a, 0, 1), Transpose(b, 0, 1))]);
        Assert.Equal(
            """
            graph(a: float32[3, 2], b: float32[4, 3]) {
              %0 = input(name=a) : float32[3, 2]
              %1 = input(name=b) : float32[4, 3]
              %2 = matmul(%1, %0) : float32[4, 2]
              %3 = permute(%2, perm=[1, 0]) : float32[2, 4]
              return output0=%3
            }

            """,
            Run(new Layout(), g));
    }

    [Fact]
    public void LayoutSinksTransposesUntilTheyCancel()
    {
        var m = Input("m", DType.F32, Shape.Of(2, 3));
        var n = Input("n", DType.F32, Shape.Of(2, 3));
        var t = Binary(Op.Add, Unary(Op.Exp, Transpose(m, 0, 1)), Transpose(n, 0, 1));
        var g = new Graph([m, n], [Transpose(t, 0, 1)]);
        Assert.Equal(
            """
            graph(m: float32[2, 3], n: float32[2, 3]) {
              %0 = input(name=m) : float32[2, 3]
              %1 = input(name=n) : float32[2, 3]
              %2 = exp(%0) : float32[2, 3]
              %3 = add(%2, %1) : float32[2, 3]
              return output0=%3
            }

            """,
            Run(new Layout(), g));
    }

    [Fact]
    public void WeightPrepackingTransposesTheWeightAtCompileTime()
    {
        var w = Constant(HostTensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 3, 2), "w");
        var a = Input("a", DType.F32, Shape.Of(5, 2));
        var g = new Graph([a], [Linear(a, w)]);
        var ctx = PassTestKit.Context(3);
        var after = PassManager.RunOne(new WeightPrepacking(), g, ctx);
        PassTestKit.AssertSameResults(g, after);
        Assert.Equal(
            """
            graph(a: float32[5, 2]) {
              %0 = input(name=a) : float32[5, 2]
              %1 = constant(name=w.packed) : float32[2, 3]
              %2 = matmul(%0, %1) : float32[5, 3]
              return output0=%2
            }

            """,
            IrPrinter.Print(after));
        Assert.Equal(new float[] { 1, 3, 5, 2, 4, 6 }, after.Outputs[0].Inputs[1].Attr<ConstantAttrs>().Data.ToFloat32());
        Assert.Equal(["w.packed"], (IReadOnlyList<string>)ctx.Analyses[WeightPrepacking.AnalysisKey]);
    }

    [Fact]
    public void DeadCodeEliminationPrunesUnusedAndRepeatedFusedInputs()
    {
        var i0 = Input("in0", DType.F32, Shape.Of(4));
        var i1 = Input("in1", DType.F32, Shape.Of(4));
        var i2 = Input("in2", DType.F32, Shape.Of(4));
        var body = new Graph([i0, i1, i2], [Binary(Op.Mul, i0, i2)], ["out"]);
        var fused = Fused(body, "elementwise", [X, Y, X]);
        var g = new Graph([X, Y], [fused]);
        var after = PassTestKit.RunPass(new DeadCodeElimination(), g);
        PassTestKit.AssertSameResults(g, after);
        Assert.Equal(
            """
            graph(in0: float32[4]) {
              %0 = input(name=in0) : float32[4]
              %1 = mul(%0, %0) : float32[4]
              return out=%1
            }

            """,
            IrPrinter.Print(after.Outputs[0].Attr<FusedAttrs>().Body));
        Assert.Single(after.Outputs[0].Inputs);
    }
}
