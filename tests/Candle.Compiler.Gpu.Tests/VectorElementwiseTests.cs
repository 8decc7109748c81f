using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Tests.BackendMatrix;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// The vectorized elementwise kernels (flat and rows) and the 32-bit general kernel on ILGPU's CPU accelerator against
/// the reference interpreter: counts around the block size (the vector body, the scalar tail and both), the
/// grid-stride loop (the CPU accelerator launches at most <see cref="ElementwiseLaunch.CpuThreads"/> threads), f32,
/// f16, bf16, bool and mixed operands, unaligned slices that must fall back to the scalar loop, broadcasts over rows
/// and columns, and layouts only the general kernel takes. Each case also checks which kernel its launches took.
/// </summary>
[Collection(EnvironmentSwitchCollection.Name)]
public sealed class VectorElementwiseTests
{
    public static TheoryData<int, DType> Counts()
    {
        var data = new TheoryData<int, DType>();
        foreach (var dt in new[] { DType.F32, DType.F16, DType.BF16 })
        {
            foreach (int n in new[] { 1, 3, 4, 5, 7, 8, 9, 4095, 4097 }) data.Add(n, dt);
        }

        return data;
    }

    private static (double Atol, double Rtol) Tolerance(DType dt) => dt switch
    {
        DType.F16 => (2e-3, 2e-3),
        DType.BF16 => (2e-2, 2e-2),
        _ => (2e-5, 2e-5),
    };

    /// <summary>Runs <paramref name="g"/> on the CPU accelerator, compares with the reference interpreter and returns the launches.</summary>
    private static List<(ElementwiseLaunchKind Kind, long Blocks)> Check(Graph g, HostTensor[] inputs, DType dt)
    {
        var expected = ReferenceInterpreter.Run(g, inputs);
        using var exe = CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu });
        var trace = new List<(ElementwiseLaunchKind, long)>();
        ElementwiseLaunch.Trace = trace;
        HostTensor[] actual;
        try
        {
            actual = exe.Run(inputs);
        }
        finally
        {
            ElementwiseLaunch.Trace = null;
        }

        var (atol, rtol) = Tolerance(dt);
        Assert.Null(BackendCases.Compare(expected, actual, atol, rtol));
        Assert.NotEmpty(trace);
        return trace;
    }

    private static HostTensor[] Random(Graph g, int seed) =>
        [.. g.Inputs.Select((i, k) => BackendCases.Random(new Random(seed + k), i.DType, [.. i.Shape.Select(d => (int)d.Value)]))];

    private static Node FusedChain(Node x, Node w, Node b) =>
        Binary(Op.Mul, Unary(Op.Gelu, Binary(Op.Add, Binary(Op.Mul, x, w), b)), Unary(Op.Sigmoid, x));

    [Theory]
    [InlineData(4095, DType.F32)]
    [InlineData(4097, DType.F16)]
    [InlineData(1003, DType.BF16)]
    public void PreviousVectorizedKernelsMatchTheReference(int n, DType dt)
    {
        // The one-block, occupancy-grouped, integer-f16 kernels the A/B switches bring back.
        string[] switches = [ElementwiseLaunch.NoUnrollVariable, ElementwiseLaunch.AutoGroupVariable, GpuLowering.SoftHalfVariable];
        foreach (var v in switches) Environment.SetEnvironmentVariable(v, "1");
        try
        {
            var x = Input("x", dt, Shape.Of(n));
            var w = Input("w", dt, Shape.Of(n));
            var b = Input("b", dt, Shape.Of(n));
            var g = new Graph([x, w, b], [FusedChain(x, w, b)]);
            var launch = Assert.Single(Check(g, Random(g, n), dt));
            Assert.Equal(ElementwiseLaunchKind.Flat, launch.Kind);
        }
        finally
        {
            foreach (var v in switches) Environment.SetEnvironmentVariable(v, null);
        }
    }

    [Theory]
    [MemberData(nameof(Counts))]
    public void FusedChainTakesTheFlatKernelWithBodyAndTail(int n, DType dt)
    {
        var x = Input("x", dt, Shape.Of(n));
        var w = Input("w", dt, Shape.Of(n));
        var b = Input("b", dt, Shape.Of(n));
        var g = new Graph([x, w, b], [FusedChain(x, w, b)]);
        var launch = Assert.Single(Check(g, Random(g, n), dt));
        Assert.Equal(ElementwiseLaunchKind.Flat, launch.Kind);
        int lanes = dt == DType.F32 ? 4 : 8;
        Assert.Equal(n / lanes, launch.Blocks);
    }

    [Theory]
    [InlineData(4097, DType.F32, 1, 0L)]
    [InlineData(4097, DType.F32, 4, 1024L)]
    [InlineData(4095, DType.F16, 3, 0L)]
    [InlineData(4095, DType.F16, 8, 511L)]
    [InlineData(4095, DType.BF16, 1, 0L)]
    public void SlicedOperandsTakeTheBlocksOnlyWhenAligned(int n, DType dt, int start, long blocks)
    {
        // x[start:] against a dense w: an element offset of a multiple of 16 bytes keeps the 16-byte accesses, any
        // other takes every element through the scalar loop.
        var x = Input("x", dt, Shape.Of(n + start));
        var w = Input("w", dt, Shape.Of(n));
        var g = new Graph([x, w], [Binary(Op.Add, Binary(Op.Mul, Slice(x, 0, start, null), w), 1.5)]);
        var launch = Assert.Single(Check(g, Random(g, 3), dt));
        Assert.Equal(ElementwiseLaunchKind.Flat, launch.Kind);
        Assert.Equal(blocks, launch.Blocks);
    }

    [Theory]
    [InlineData(9, 64, DType.F32)]
    [InlineData(9, 5, DType.F32)]
    [InlineData(3, 4096, DType.F32)]
    [InlineData(5, 64, DType.F16)]
    [InlineData(5, 12, DType.BF16)]
    public void BiasOverTheLastDimensionTakesTheRowsKernel(int rows, int cols, DType dt)
    {
        var x = Input("x", dt, Shape.Of(rows, cols));
        var bias = Input("b", dt, Shape.Of(cols));
        var g = new Graph([x, bias], [Unary(Op.Silu, Binary(Op.Add, x, bias))]);
        var launch = Assert.Single(Check(g, Random(g, 11), dt));
        Assert.Equal(ElementwiseLaunchKind.Rows, launch.Kind);
        int lanes = dt == DType.F32 ? 4 : 8;
        Assert.Equal(cols % lanes == 0 ? rows * cols / lanes : 0, launch.Blocks);
    }

    [Theory]
    [InlineData(7, 32, DType.F32)]
    [InlineData(7, 33, DType.F32)]
    [InlineData(6, 16, DType.BF16)]
    public void RowScaleTakesTheRowsKernel(int rows, int cols, DType dt)
    {
        var x = Input("x", dt, Shape.Of(rows, cols));
        var s = Input("s", dt, Shape.Of(rows, 1));
        var g = new Graph([x, s], [Binary(Op.Mul, x, s)]);
        var launch = Assert.Single(Check(g, Random(g, 5), dt));
        Assert.Equal(ElementwiseLaunchKind.Rows, launch.Kind);
    }

    [Fact]
    public void BiasOverTheLastDimensionOfABatchTakesTheRowsKernel()
    {
        var x = Input("x", DType.F32, Shape.Of(3, 5, 24));
        var bias = Input("b", DType.F32, Shape.Of(24));
        var scale = Input("s", DType.F32, Shape.Of(3, 5, 1));
        var g = new Graph([x, bias, scale], [Binary(Op.Mul, Binary(Op.Add, x, bias), scale)]);
        var launch = Assert.Single(Check(g, Random(g, 2), DType.F32));
        Assert.Equal(ElementwiseLaunchKind.Rows, launch.Kind);
        Assert.Equal(3 * 5 * 24 / 4, launch.Blocks);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    public void ScalarTensorOperandTakesTheFlatKernel(DType dt)
    {
        var x = Input("x", dt, Shape.Of(1001));
        var s = Input("s", dt, Shape.Scalar);
        var g = new Graph([x, s], [Binary(Op.Sub, Binary(Op.Mul, x, s), s)]);
        var launch = Assert.Single(Check(g, Random(g, 9), dt));
        Assert.Equal(ElementwiseLaunchKind.Flat, launch.Kind);
        Assert.Equal(1001 / (dt == DType.F32 ? 4 : 8), launch.Blocks);
    }

    [Theory]
    [InlineData(4, 8, 8)]
    [InlineData(3, 5, 7)]
    public void MiddleBroadcastTakesTheNarrowGeneralKernel(int a, int b, int c)
    {
        // y[a, 1, c] over x[a, b, c]: y's outer dimensions do not collapse to one row stride.
        var x = Input("x", DType.F32, Shape.Of(a, b, c));
        var y = Input("y", DType.F32, Shape.Of(a, 1, c));
        var g = new Graph([x, y], [Binary(Op.Maximum, x, y)]);
        var launch = Assert.Single(Check(g, Random(g, 4), DType.F32));
        Assert.Equal(ElementwiseLaunchKind.Narrow, launch.Kind);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.BF16)]
    public void TransposedOperandTakesTheNarrowGeneralKernel(DType dt)
    {
        var x = Input("x", dt, Shape.Of(33, 17));
        var y = Input("y", dt, Shape.Of(17, 33));
        var g = new Graph([x, y], [Binary(Op.Add, Transpose(x, 0, 1), Unary(Op.Exp, y))]);
        var launch = Assert.Single(Check(g, Random(g, 8), dt));
        Assert.Equal(ElementwiseLaunchKind.Narrow, launch.Kind);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(4099)]
    public void MixedDtypesTakeEightLanes(int n)
    {
        // An f16 operand makes the block 8 elements: the f32 operand and the f32 result take two 16-byte accesses.
        var x = Input("x", DType.F16, Shape.Of(n));
        var w = Input("w", DType.F32, Shape.Of(n));
        var g = new Graph([x, w], [Binary(Op.Mul, Cast(x, DType.F32), w)]);
        var launch = Assert.Single(Check(g, Random(g, 1), DType.F16));
        Assert.Equal(ElementwiseLaunchKind.Flat, launch.Kind);
        Assert.Equal(n / 8, launch.Blocks);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(4097)]
    public void BoolOperandsAndResultsAreReadAndWrittenPerElement(int n)
    {
        var m = Input("m", DType.Bool, Shape.Of(n));
        var x = Input("x", DType.F32, Shape.Of(n));
        var y = Input("y", DType.F32, Shape.Of(n));
        var g = new Graph([m, x, y], [Where(m, x, Binary(Op.Mul, y, 2.0)), Binary(Op.Gt, x, y)]);
        var launches = Check(g, Random(g, 6), DType.F32);
        Assert.Equal(2, launches.Count);
        Assert.All(launches, l => Assert.Equal(ElementwiseLaunchKind.Flat, l.Kind));
        Assert.All(launches, l => Assert.Equal(n / 4, l.Blocks));
    }
}
