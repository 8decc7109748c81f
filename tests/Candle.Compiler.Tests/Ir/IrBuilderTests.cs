using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Tests.Ir;

public class IrBuilderTests
{
    private static readonly Dim Seq = Dim.Sym("seq");

    [Fact]
    public void HashConsingReturnsTheSameObjectForEqualNodes()
    {
        var x = IrBuilder.Input("x", DType.F32, new Shape(Seq, 4));
        var a = IrBuilder.Unary(Op.Exp, IrBuilder.Binary(Op.Add, x, 1.0));
        var b = IrBuilder.Unary(Op.Exp, IrBuilder.Binary(Op.Add, x, 1.0));
        Assert.Same(a, b);
    }

    [Fact]
    public void BroadcastingInsertsExpandsAndPromotes()
    {
        var a = IrBuilder.Input("a", DType.I64, new Shape(Seq, 1));
        var b = IrBuilder.Input("b", DType.F16, new Shape(3));
        var c = IrBuilder.Binary(Op.Mul, a, b);
        Assert.Equal(DType.F16, c.DType);
        Assert.Equal(new Shape(Seq, 3), c.Shape);
        Assert.All(c.Inputs, i => Assert.Equal(c.Shape, i.Shape));
    }

    [Fact]
    public void IntegerTrueDivisionGivesFloat32()
    {
        var a = IrBuilder.Input("a", DType.I32, new Shape(4));
        Assert.Equal(DType.F32, IrBuilder.Binary(Op.Div, a, a).DType);
        Assert.Equal(DType.I32, IrBuilder.Binary(Op.FloorDiv, a, a).DType);
    }

    [Fact]
    public void ShapeMistakesNameOpShapesAndDtypes()
    {
        var a = IrBuilder.Input("a", DType.F32, Shape.Of(2, 3));
        var b = IrBuilder.Input("b", DType.F32, Shape.Of(4, 5));
        var ex = Assert.Throws<IrException>(() => IrBuilder.MatMul(a, b));
        Assert.Contains("matmul", ex.Message, StringComparison.Ordinal);
        Assert.Contains("float32[2, 3]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("3 vs 4", ex.Message, StringComparison.Ordinal);
        var ex2 = Assert.Throws<IrException>(() => IrBuilder.Binary(Op.Add, a, b));
        Assert.Contains("cannot broadcast", ex2.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MatMulHandlesVectorsAndBatchBroadcast()
    {
        var a = IrBuilder.Input("a", DType.F32, new Shape(Dim.Sym("batch"), Seq, 8));
        var w = IrBuilder.Input("w", DType.F32, Shape.Of(8, 16));
        Assert.Equal(new Shape(Dim.Sym("batch"), Seq, 16), IrBuilder.MatMul(a, w).Shape);
        var v = IrBuilder.Input("v", DType.F32, Shape.Of(8));
        Assert.Equal(new Shape(Dim.Sym("batch"), Seq), IrBuilder.MatMul(a, v).Shape);
        Assert.Equal(Shape.Of(16), IrBuilder.MatMul(v, w).Shape);
    }

    [Fact]
    public void SymbolicReshapeInfersMinusOne()
    {
        var x = IrBuilder.Input("x", DType.F32, new Shape(Seq, 8));
        var r = IrBuilder.Reshape(x, 2, -1, 4);
        Assert.Equal(new Shape(2, Seq, 4), r.Shape);
    }

    [Fact]
    public void VerifierAcceptsBuiltGraphsAndPrintsStably()
    {
        var x = IrBuilder.Input("x", DType.F32, new Shape(Seq, 8));
        var y = IrBuilder.Softmax(IrBuilder.Binary(Op.Mul, x, 2.0), -1);
        var g = new Graph([x], [y], ["y"]);
        Verifier.Verify(g);
        string text = IrPrinter.Print(g);
        Assert.Equal("graph(x: float32[seq, 8]) {\n  %0 = input(name=x) : float32[seq, 8]\n  %1 = full(value=2) : float32[seq, 8]\n  %2 = mul(%0, %1) : float32[seq, 8]\n  %3 = softmax(%2, axis=1) : float32[seq, 8]\n  return y=%3\n}\n", text);
    }

    [Fact]
    public void VerifierRejectsUndeclaredInputs()
    {
        var x = IrBuilder.Input("x", DType.F32, Shape.Of(2));
        var z = IrBuilder.Input("z", DType.F32, Shape.Of(2));
        var g = new Graph([x], [IrBuilder.Binary(Op.Add, x, z)]);
        var ex = Assert.Throws<IrException>(() => Verifier.Verify(g));
        Assert.Contains("'z'", ex.Message, StringComparison.Ordinal);
    }
}
