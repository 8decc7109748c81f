using Candle.Compiler.Ir;
using Candle.Runtime.Kernels.Cpu;
using Candle.Runtime.Kernels.Cpu.Ops;

namespace Candle.Compiler.Tests.Ir;

/// <summary>The op declarations: elementwise IR ops and the runtime's operator structs map one to one, by code.</summary>
public class OpDeclarationTests
{
    [Fact]
    public void ElementwiseOpsAndRuntimeCodesAreABijection()
    {
        var elementwise = Enum.GetValues<Op>().Where(o => o.IsElementwise()).ToList();
        var codes = elementwise.Select(o => o.Elementwise().Code).ToList();
        Assert.Equal(codes.Count, codes.Distinct().Count());
        Assert.Equal(ElementwiseOps.All.Select(d => d.Code).Order(), codes.Order());
        foreach (var op in elementwise)
        {
            Assert.Same(op.Elementwise(), ElementwiseOps.ByCode(op.Elementwise().Code));
        }
    }

    [Fact]
    public void GroupsAreDeclaredNotRanges()
    {
        Assert.True(Op.Where.IsElementwise());
        Assert.False(Op.Where.IsUnary() || Op.Where.IsBinary());
        Assert.True(Op.Cast.IsUnary());
        Assert.True(Op.Ge.IsComparison());
        Assert.False(Op.LogicalAnd.IsComparison());
        Assert.False(Op.CumSum.IsReduce());
        Assert.False(Op.MatMul.IsElementwise() || Op.MatMul.IsMovement() || Op.MatMul.IsComposite());
        Assert.True(Op.ScatterAdd.IsMovement() && !Op.ScatterAdd.IsView());
        Assert.True(Op.SliceScatter.IsMovement() && !Op.SliceScatter.IsView());
        Assert.Equal("gelu_tanh", Op.GeluTanh.Name());
        Assert.Equal("logical_not", Op.LogicalNot.Name());
        Assert.Equal("floor_div", Op.FloorDiv.Name());
    }

    [Fact]
    public void UnaryOpsHaveUnaryDefinitionsAndBinaryOpsBinary()
    {
        foreach (var op in Enum.GetValues<Op>().Where(o => o.IsUnary() && o != Op.Cast)) Assert.NotNull(op.Elementwise().Unary);
        foreach (var op in Enum.GetValues<Op>().Where(o => o.IsBinary())) Assert.NotNull(op.Elementwise().Binary);
    }

    [Fact]
    public void ReductionsNameDistinctKernelOps()
    {
        var reduce = Enum.GetValues<Op>().Where(o => o.IsReduce()).ToList();
        Assert.Equal(7, reduce.Count);
        Assert.Equal(reduce.Count, reduce.Select(o => o.ReduceKernelOp()).Distinct().Count());
        Assert.Equal(ReduceOp.ArgMin, Op.ArgMin.ReduceKernelOp());
    }
}
