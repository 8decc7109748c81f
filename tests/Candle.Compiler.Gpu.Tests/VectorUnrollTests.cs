using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Tests.BackendMatrix;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// The flat elementwise kernel unrolled by <c>CANDLE_GPU_VECTOR_UNROLL=N</c> on ILGPU's CPU accelerator against the
/// reference interpreter: counts that leave the unrolled steps, the one-block steps and the element tail each with
/// work (the CPU accelerator runs <see cref="ElementwiseLaunch.CpuThreads"/> grid-stride threads, so N · 64 blocks a
/// step), f32, f16 and bf16, a broadcast scalar, an unaligned slice (no blocks at all), and a value the switch
/// refuses.
/// </summary>
[Collection(EnvironmentSwitchCollection.Name)]
public sealed class VectorUnrollTests
{
    public static TheoryData<int, int, DType> Cases()
    {
        var data = new TheoryData<int, int, DType>();
        foreach (int unroll in new[] { 1, 2, 3, 8 })
        {
            foreach (var dt in new[] { DType.F32, DType.F16, DType.BF16 })
            {
                int lanes = dt == DType.F32 ? 4 : 8;
                int step = unroll * (int)ElementwiseLaunch.CpuThreads * lanes;

                // One element; under one unrolled step; two steps and some one-block steps and a tail.
                foreach (int n in new[] { 1, 4095, (2 * step) + (3 * lanes * 64) + (5 * lanes) + 3 }) data.Add(unroll, n, dt);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void UnrolledFlatKernelMatchesTheReference(int unroll, int n, DType dt)
    {
        var x = Input("x", dt, Shape.Of(n));
        var w = Input("w", dt, Shape.Of(n));
        var b = Input("b", dt, Shape.Of(n));
        var g = new Graph([x, w, b], [Binary(Op.Mul, Unary(Op.Gelu, Binary(Op.Add, Binary(Op.Mul, x, w), b)), Unary(Op.Sigmoid, x))]);
        var (launches, kernels) = Check(g, unroll, dt, seed: n);
        var launch = Assert.Single(launches);
        Assert.Equal(ElementwiseLaunchKind.Flat, launch.Kind);
        Assert.Equal(n / (dt == DType.F32 ? 4 : 8), launch.Blocks);
        var kernel = Assert.Single(kernels);
        Assert.EndsWith(ElementwiseKernelEmitter.FlatUnrolledBy(unroll) + (dt == DType.F16 ? ElementwiseKernelEmitter.HardwareHalfSuffix : ""), kernel.Kernel, StringComparison.Ordinal);
        Assert.Equal(Math.Min(Math.Max(n / (dt == DType.F32 ? 4 : 8), n % (dt == DType.F32 ? 4 : 8)), ElementwiseLaunch.CpuThreads), kernel.Threads);
    }

    [Theory]
    [InlineData(3, DType.F32, 0, 4000L / 4)]
    [InlineData(3, DType.F32, 1, 0L)]
    [InlineData(2, DType.BF16, 8, 4000L / 8)]
    public void ScalarsAndSlicesTakeTheUnrolledKernelOnlyWhenAligned(int unroll, DType dt, int start, long blocks)
    {
        const int N = 4000;
        var x = Input("x", dt, Shape.Of(N + start));
        var w = Input("w", dt, Shape.Of(N));
        var g = new Graph([x, w], [Binary(Op.Add, Binary(Op.Mul, Slice(x, 0, start, null), w), 1.5)]);
        var (launches, kernels) = Check(g, unroll, dt, seed: 5);
        var launch = Assert.Single(launches);
        Assert.EndsWith(ElementwiseKernelEmitter.FlatUnrolledBy(unroll), Assert.Single(kernels).Kernel, StringComparison.Ordinal);
        Assert.Equal(ElementwiseLaunchKind.Flat, launch.Kind);
        Assert.Equal(blocks, launch.Blocks);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("9")]
    [InlineData("four")]
    public void AValueOutsideTheRangeIsRefusedByName(string value)
    {
        var x = Input("x", DType.F32, Shape.Of(16));
        var g = new Graph([x], [Unary(Op.Silu, x)]);
        Environment.SetEnvironmentVariable(ElementwiseLaunch.VectorUnrollVariable, value);
        try
        {
            var e = Assert.Throws<InvalidOperationException>(() => CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu }).Dispose());
            Assert.Contains(ElementwiseLaunch.VectorUnrollVariable, e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(ElementwiseLaunch.VectorUnrollVariable, null);
        }
    }

    /// <summary>Runs <paramref name="g"/> with the switch at <paramref name="unroll"/>, compares with the reference interpreter and returns the launches and their kernels.</summary>
    private static (List<(ElementwiseLaunchKind Kind, long Blocks)> Launches, List<(string Kernel, long Threads)> Kernels) Check(Graph g, int unroll, DType dt, int seed)
    {
        var kernels = new List<(string Kernel, long Threads)>();
        HostTensor[] inputs = [.. g.Inputs.Select((i, k) => BackendCases.Random(new Random(seed + k), i.DType, [.. i.Shape.Select(d => (int)d.Value)]))];
        var expected = ReferenceInterpreter.Run(g, inputs);
        var trace = new List<(ElementwiseLaunchKind, long)>();
        Environment.SetEnvironmentVariable(ElementwiseLaunch.VectorUnrollVariable, unroll.ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            using var exe = CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu });
            ElementwiseLaunch.Trace = trace;
            ElementwiseLaunch.KernelTrace = kernels;
            var actual = exe.Run(inputs);
            var (atol, rtol) = dt switch
            {
                DType.F16 => (2e-3, 2e-3),
                DType.BF16 => (2e-2, 2e-2),
                _ => (2e-5, 2e-5),
            };
            Assert.Null(BackendCases.Compare(expected, actual, atol, rtol));
        }
        finally
        {
            ElementwiseLaunch.Trace = null;
            ElementwiseLaunch.KernelTrace = null;
            Environment.SetEnvironmentVariable(ElementwiseLaunch.VectorUnrollVariable, null);
        }

        return (trace, kernels);
    }
}
