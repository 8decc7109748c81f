using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// The kernel an elementwise launch takes (<see cref="ElementwiseLaunch"/>) for hand-written shapes, strides and
/// alignments, with the expected blocks and threads counted by hand.
/// </summary>
public sealed class ElementwiseLaunchTests
{
    private static ElementwiseSpec Spec(int rank, DType dt, params InnerAccess[] access) =>
        new([.. access.Select(a => new ElementwiseInput(dt, a))], [.. access.Select((_, k) => new BodyOp(Op.Input, dt, [], k)), new BodyOp(Op.Add, dt, [0, 1])], dt, rank);

    private static ElementwiseLaunch Launch(ElementwiseSpec spec, long resident, long[] shape, long[] offsets, long[][] strides)
    {
        var l = new ElementwiseLaunch(spec, resident);
        shape.CopyTo(l.Shape, 0);
        offsets.CopyTo(l.Offsets, 0);
        for (int k = 0; k < strides.Length; k++) strides[k].CopyTo(l.Strides[k], 0);
        Array.Fill(l.Aligned, true);
        return l;
    }

    [Fact]
    public void DenseOperandsTakeTheFlatKernelWithWholeBlocksAndCappedThreads()
    {
        var spec = Spec(1, DType.F32, InnerAccess.Contiguous, InnerAccess.Contiguous);
        var l = Launch(spec, 100, [1003], [0, 0], [[1], [1]]);
        // 1003 f32 elements: 250 blocks of 4 and 3 left; 250 threads wanted, 100 resident.
        Assert.Equal((ElementwiseLaunchKind.Flat, 250L, 100L, 1L), l.Plan(1003, flat: true, rows: true));
        Assert.Equal((ElementwiseLaunchKind.Flat, 250L, 250L, 1L), Launch(spec, 1000, [1003], [0, 0], [[1], [1]]).Plan(1003, true, true));
    }

    [Fact]
    public void AnUnalignedOperandTakesEveryElementThroughTheScalarLoop()
    {
        var l = Launch(Spec(1, DType.F16, InnerAccess.Contiguous, InnerAccess.Broadcast), 1 << 20, [77], [3, 5], [[1], [0]]);
        l.Aligned[0] = false;
        Assert.Equal((ElementwiseLaunchKind.Flat, 0L, 77L, 1L), l.Plan(77, true, true));
        // The broadcast input is one scalar load: its alignment does not matter.
        var m = Launch(Spec(1, DType.F16, InnerAccess.Contiguous, InnerAccess.Broadcast), 1 << 20, [77], [0, 5], [[1], [0]]);
        m.Aligned[1] = false;
        Assert.Equal((ElementwiseLaunchKind.Flat, 9L, 9L, 1L), m.Plan(77, true, true));
    }

    [Fact]
    public void BiasAndRowScaleTakeTheRowsKernel()
    {
        // x[6, 4, 16] (dense), bias[16] (outer strides 0), scale[6, 4, 1] (row stride 1).
        var spec = new ElementwiseSpec(
            [new(DType.F32, InnerAccess.Contiguous), new(DType.F32, InnerAccess.Contiguous), new(DType.F32, InnerAccess.Broadcast)],
            [new(Op.Input, DType.F32, [], 0), new(Op.Input, DType.F32, [], 1), new(Op.Input, DType.F32, [], 2), new(Op.Add, DType.F32, [0, 1]), new(Op.Mul, DType.F32, [3, 2])],
            DType.F32,
            3);
        var l = Launch(spec, 1 << 20, [6, 4, 16], [0, 0, 0], [[64, 16, 1], [0, 0, 1], [4, 1, 0]]);
        Assert.Equal((ElementwiseLaunchKind.Rows, 96L, 96L, 16L), l.Plan(384, true, true));
        Assert.Equal([16L, 0L, 1L], l.RowStrides);
        // Without the rows kernel (a rank-1 spec has none) the general kernel takes it.
        Assert.Equal(ElementwiseLaunchKind.General, l.Plan(384, true, rows: false).Kind);
    }

    [Fact]
    public void RowsWhoseLengthIsNoMultipleOfTheBlockTakeNoBlocks()
    {
        var l = Launch(Spec(2, DType.BF16, InnerAccess.Contiguous, InnerAccess.Contiguous), 1 << 20, [3, 12], [0, 0], [[12, 1], [0, 1]]);
        Assert.Equal((ElementwiseLaunchKind.Rows, 0L, 36L, 12L), l.Plan(36, true, true));
    }

    [Fact]
    public void OuterDimensionsThatDoNotCollapseTakeTheGeneralKernel()
    {
        // y[3, 1, 8] over [3, 5, 8]: outer strides (8, 0) are not one row stride.
        var l = Launch(Spec(3, DType.F32, InnerAccess.Contiguous, InnerAccess.Contiguous), 1 << 20, [3, 5, 8], [0, 0], [[40, 8, 1], [8, 0, 1]]);
        Assert.Equal(ElementwiseLaunchKind.General, l.Plan(120, true, true).Kind);
        Assert.True(l.FitsNarrow(120));
    }

    [Fact]
    public void GroupsSpreadSmallLaunchesOverTheMultiprocessors()
    {
        // A decode step's SwiGLU: 5632 f16 elements, 704 blocks of 8, on 132 multiprocessors: 22 groups of 32 (groups of
        // 64 would fill only 11 of them).
        Assert.Equal(32, ElementwiseLaunch.GroupSize(704, 132, 1024));
        // 20000 threads: 157 groups of 128 reach every multiprocessor, 79 groups of 256 would not.
        Assert.Equal(128, ElementwiseLaunch.GroupSize(20_000, 132, 1024));
        // A resident grid of 132 · 2048 threads: the largest size.
        Assert.Equal(256, ElementwiseLaunch.GroupSize(132 * 2048, 132, 1024));
        // Never above the device's group limit, nor below it when that is under a warp's 32.
        Assert.Equal(64, ElementwiseLaunch.GroupSize(1 << 20, 132, 64));
        Assert.Equal(16, ElementwiseLaunch.GroupSize(64, 2, 16));
    }

    [Fact]
    public void MoreElementsThanThirtyBitIndicesTakeTheGeneralKernel()
    {
        long n = ElementwiseLaunch.MaxVectorized + 1;
        var l = Launch(Spec(1, DType.F32, InnerAccess.Contiguous, InnerAccess.Contiguous), 1 << 20, [n], [0, 0], [[1], [1]]);
        Assert.Equal(ElementwiseLaunchKind.General, l.Plan(n, true, true).Kind);
    }

    [Fact]
    public void NarrowIndicesMustStayWithinThirtyOneBits()
    {
        var spec = Spec(2, DType.F32, InnerAccess.Contiguous, InnerAccess.Strided);
        Assert.True(Launch(spec, 1, [1000, 1000], [0, 0], [[1000, 1], [1, 1000]]).FitsNarrow(1_000_000));
        // Offset 2^31 - 1000 plus a last index of 999 · 1000 + 999 passes 2^31 - 1.
        Assert.False(Launch(spec, 1, [1000, 1000], [0, int.MaxValue - 1000L], [[1000, 1], [1, 1000]]).FitsNarrow(1_000_000));
        // A negative stride that reaches below element 0 from the offset (a flip reads downwards from its offset).
        Assert.True(Launch(spec, 1, [1000, 1000], [0, 999_999], [[1000, 1], [-1, -1000]]).FitsNarrow(1_000_000));
        Assert.False(Launch(spec, 1, [1000, 1000], [0, 999_998], [[1000, 1], [-1, -1000]]).FitsNarrow(1_000_000));
    }
}
