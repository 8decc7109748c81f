using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Tests.BackendMatrix;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// slice_scatter into a constant (the gradient of a slice: a q, k or v slice of a merged projection) writes the constant
/// only outside the slice and nothing when the slice covers the axis, on ILGPU's CPU accelerator and on CUDA where
/// there is one, against the reference interpreter: slices at the start, in the middle, at the end and over the whole
/// of each axis of a rank-3 tensor, with steps, and constants 0 and 1.5.
/// </summary>
public class SliceScatterFillTests
{
    public static TheoryData<int, long, long, int, double> Cases() => new()
    {
        { 2, 0, 8, 1, 0 },
        { 2, 8, 16, 1, 0 },
        { 2, 16, 24, 1, 1.5 },
        { 2, 0, 24, 1, 0 },
        { 1, 1, 4, 1, 0 },
        { 0, 0, 3, 1, 1.5 },
        { 0, 0, 3, 2, 0 },
        { 2, 3, 20, 4, 0 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReferenceInterpreter(int axis, long start, long end, int step, double value) => Check(axis, start, end, step, value, GpuBackends.IlgpuCpu);

    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void CudaMatchesTheReferenceInterpreter(int axis, long start, long end, int step, double value) => Check(axis, start, end, step, value, GpuBackends.Cuda);

    private static void Check(int axis, long start, long end, int step, double value, GpuBackend backend)
    {
        long[] dims = [3, 5, 24];
        var srcDims = dims.ToArray();
        srcDims[axis] = ((end - start) + step - 1) / step;
        var src = Input("src", DType.F32, Shape.Of(srcDims));
        var y = SliceScatter(Full(value, DType.F32, Shape.Of(dims)), src, axis, Dim.Of(start), step);
        var g = new Graph([src], [Binary(Op.Mul, y, 2.0)]);
        var rng = new Random(axis + (int)start);
        var inputs = new[] { BackendCases.Random(rng, DType.F32, [.. srcDims.Select(d => (int)d)], -1, 1) };
        var expected = ReferenceInterpreter.Run(g, inputs);
        using var exe = (GpuExecutable)CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = backend });
        Assert.Null(BackendCases.Compare(expected, exe.Run(inputs), 0, 0));

        // The constant goes only outside a unit-step slice: no call writes the whole buffer but the product after it.
        var calls = exe.Kernels.Calls;
        if (step == 1)
        {
            Assert.DoesNotContain(calls, c => c is FillCall f && f.Label != "constant");
            Assert.DoesNotContain(calls, c => c.Label == "copy for slice_scatter");
            int outside = (start > 0 ? 1 : 0) + (end < dims[axis] ? 1 : 0);
            Assert.Equal(outside, calls.Count(c => c.Label == "copy for slice_scatter (outside the slice)"));
        }
    }
}
