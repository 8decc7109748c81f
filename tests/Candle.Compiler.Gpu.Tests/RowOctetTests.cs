using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Tests.BackendMatrix;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// The row kernels that read and write eight elements at a time (<c>SoftmaxOctets</c>, <c>RmsNormOctets</c>,
/// <c>LayerNormOctets</c>: rows whose length is a multiple of 8 in aligned buffers) on ILGPU's CPU accelerator against
/// the reference interpreter, with and without a weight, bias or residual sum, f32/f16/bf16, and row lengths that are
/// no multiple of 8 (the scalar kernels); and the octet kernels without a row cache against a scalar computation.
/// </summary>
public sealed class RowOctetTests
{
    public static TheoryData<int, DType> Lengths()
    {
        var data = new TheoryData<int, DType>();
        foreach (var dt in new[] { DType.F32, DType.F16, DType.BF16 })
        {
            foreach (int n in new[] { 8, 12, 24, 4096, 13000 }) data.Add(n, dt);
        }

        return data;
    }

    private static void Check(Graph g, DType dt, int length, int seed)
    {
        var inputs = g.Inputs.Select((i, k) => BackendCases.Random(new Random(seed + k), i.DType, [.. i.Shape.Select(d => (int)d.Value)])).ToArray();
        var expected = ReferenceInterpreter.Run(g, inputs);
        using var exe = CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu });
        var (atol, rtol) = BackendCases.Tol(dt, length);
        Assert.Null(BackendCases.Compare(expected, exe.Run(inputs), atol, rtol));
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void SoftmaxAndLogSoftmaxMatchTheReference(int n, DType dt)
    {
        var x = Input("x", dt, Shape.Of(3, n));
        Check(new Graph([x], [Softmax(x, 1), LogSoftmax(x, 1)]), dt, n, n);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void RmsNormMatchesTheReference(int n, DType dt)
    {
        var x = Input("x", dt, Shape.Of(3, n));
        var w = Input("w", dt, Shape.Of(n));
        Check(new Graph([x, w], [RmsNorm(x, w, 1e-6), RmsNorm(x, null, 1e-5)]), dt, n, n + 1);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void LayerNormMatchesTheReference(int n, DType dt)
    {
        var x = Input("x", dt, Shape.Of(3, n));
        var w = Input("w", dt, Shape.Of(n));
        var b = Input("b", dt, Shape.Of(n));
        Check(new Graph([x, w, b], [LayerNorm(x, w, b, 1e-5), LayerNorm(x, null, b, 1e-5), LayerNorm(x, null, null, 1e-6)]), dt, n, n + 2);
    }

    [Theory]
    [InlineData(40, DType.F32)]
    [InlineData(4096, DType.BF16)]
    [InlineData(36, DType.F16)]
    public void RmsNormOfAResidualSumMatchesTheReference(int n, DType dt)
    {
        var res = Input("res", dt, Shape.Of(5, n));
        var upd = Input("upd", dt, Shape.Of(5, n));
        var w = Input("w", dt, Shape.Of(n));
        var stream = Binary(Op.Add, res, upd);
        var normed = RmsNorm(stream, w, 1e-5);
        Check(new Graph([res, upd, w], [normed, Binary(Op.Add, stream, Binary(Op.Mul, normed, 0.5))]), dt, n, 7);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void UncachedOctetKernelsMatchAScalarComputation(int kernel)
    {
        // The octet kernels with no row cache (as OpenCL runs them; the CPU accelerator's shared memory holds every row
        // the backend tests use) against softmax, log_softmax, rms_norm and layer_norm (w as weight and bias) computed
        // here in double precision. Groups
        // of 16 threads (the CPU accelerator's most) over 40 octets: each thread takes two or three.
        const int Rows = 3, Octets = 40, N = Octets * 8;
        var rng = new Random(12);
        float[] x = [.. Enumerable.Range(0, Rows * N).Select(_ => (float)((rng.NextDouble() * 6) - 3))];
        float[] w = [.. Enumerable.Range(0, N).Select(_ => (float)(rng.NextDouble() - 0.5))];
        using var context = Context.Create(b => b.CPU().EnableAlgorithms());
        using var acc = context.CreateCPUAccelerator(0);
        using var xb = acc.Allocate1D(x);
        using var wb = acc.Allocate1D(w);
        using var yb = acc.Allocate1D<float>(Rows * N);
        var config = new KernelConfig(Rows, Math.Min(16, acc.MaxNumThreadsPerGroup));
        if (kernel < 2)
        {
            var k = acc.LoadStreamKernel<ArrayView<Quad>, ArrayView<Quad>, int, int, int>(RowKernels.SoftmaxOctets<F32Octets, SharedReducer, NoRowCache>);
            k(config, Quads(xb), Quads(yb), Octets, kernel, 1);
        }
        else if (kernel == 3)
        {
            var k = acc.LoadStreamKernel<ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, int, int, int, float, int>(RowKernels.LayerNormOctets<F32Octets, SharedReducer, NoRowCache>);
            k(config, Quads(xb), Quads(wb), Quads(wb), Quads(yb), Octets, 1, 1, 1e-5f, 1);
        }
        else
        {
            var k = acc.LoadStreamKernel<ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, int, int, int, float, int>(RowKernels.RmsNormOctets<F32Octets, SharedReducer, NoRowCache>);
            k(config, Quads(xb), Quads(wb), Quads(xb), Quads(xb), Quads(yb), Octets, 1, 0, 1e-6f, 1);
        }

        acc.Synchronize();
        var y = yb.GetAsArray1D();
        for (int r = 0; r < Rows; r++)
        {
            var row = x.AsSpan(r * N, N).ToArray().Select(v => (double)v).ToArray();
            double max = row.Max(), sum = row.Sum(v => Math.Exp(v - max)), rms = Math.Sqrt((row.Sum(v => v * v) / N) + 1e-6);
            double mean = row.Average(), sd = Math.Sqrt((row.Sum(v => (v - mean) * (v - mean)) / N) + 1e-5);
            for (int j = 0; j < N; j++)
            {
                double expected = kernel switch
                {
                    0 => Math.Exp(row[j] - max) / sum,
                    1 => row[j] - max - Math.Log(sum),
                    2 => row[j] / rms * w[j],
                    _ => ((row[j] - mean) / sd * w[j]) + w[j],
                };
                Assert.True(Math.Abs(y[(r * N) + j] - expected) <= 1e-5 + (1e-5 * Math.Abs(expected)), $"row {r} element {j}: {y[(r * N) + j]}, expected {expected}");
            }
        }
    }

    private static ArrayView<Quad> Quads(MemoryBuffer1D<float, Stride1D.Dense> buffer) => buffer.View.AsContiguous().Cast<Quad>();
}
