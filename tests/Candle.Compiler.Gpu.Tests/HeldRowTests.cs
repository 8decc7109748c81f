using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Tests.BackendMatrix;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// The register-held row kernels (<see cref="HeldRowKernels"/>): launched directly on ILGPU's CPU accelerator with
/// groups of 16 threads over rows of 1 to 64 octets (one to four octets a thread, the last ones partly held) against
/// softmax, log_softmax and rms_norm (with and without weight and residual) computed here in double precision; and
/// through the backend against the reference interpreter in f32, f16 and bf16, for one row (a decode step) and several,
/// with the shared-memory cached forms (<c>CANDLE_GPU_ROWS_CACHED=1</c>) giving the same results.
/// </summary>
[Collection(EnvironmentSwitchCollection.Name)]
public sealed class HeldRowTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(40)]
    [InlineData(49)]
    [InlineData(64)]
    public void HeldKernelsMatchAScalarComputation(int octets)
    {
        const int Rows = 3, Group = 16;
        int n = octets * 8;
        var rng = new Random(octets);
        float[] x = [.. Enumerable.Range(0, Rows * n).Select(_ => (float)((rng.NextDouble() * 6) - 3))];
        float[] res = [.. Enumerable.Range(0, Rows * n).Select(_ => (float)((rng.NextDouble() * 2) - 1))];
        float[] w = [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5))];
        using var context = Context.Create(b => b.CPU().EnableAlgorithms());
        using var acc = context.CreateCPUAccelerator(0);
        Assert.True(acc.MaxNumThreadsPerGroup >= Group);
        using var xb = acc.Allocate1D(x);
        using var rb = acc.Allocate1D(res);
        using var wb = acc.Allocate1D(w);
        using var sb = acc.Allocate1D<float>(Rows * n);
        using var yb = acc.Allocate1D<float>(Rows * n);
        using var lb = acc.Allocate1D<float>(Rows * n);
        using var nb = acc.Allocate1D<float>(Rows * n);
        using var ub = acc.Allocate1D<float>(Rows * n);
        var config = new KernelConfig(Rows, Group);
        var softmax = acc.LoadStreamKernel<ArrayView<Quad>, ArrayView<Quad>, int, int>(HeldRowKernels.Softmax<F32Octets, SharedReducer>);
        softmax(config, Quads(xb), Quads(yb), octets, 0);
        softmax(config, Quads(xb), Quads(lb), octets, 1);
        var rms = acc.LoadStreamKernel<ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, int, int, int, float>(HeldRowKernels.RmsNorm<F32Octets, SharedReducer>);
        rms(config, Quads(xb), Quads(wb), Quads(rb), Quads(sb), Quads(nb), octets, 1, 1, 1e-6f);
        rms(config, Quads(xb), Quads(wb), Quads(xb), Quads(xb), Quads(ub), octets, 0, 0, 1e-5f);
        acc.Synchronize();
        float[] y = yb.GetAsArray1D(), l = lb.GetAsArray1D(), s = sb.GetAsArray1D(), normed = nb.GetAsArray1D(), plain = ub.GetAsArray1D();
        for (int r = 0; r < Rows; r++)
        {
            double[] row = [.. x.AsSpan(r * n, n).ToArray().Select(v => (double)v)];
            double[] summed = [.. Enumerable.Range(0, n).Select(j => (double)(x[(r * n) + j] + res[(r * n) + j]))];
            double max = row.Max(), sum = row.Sum(v => Math.Exp(v - max));
            double rmsSum = Math.Sqrt((summed.Sum(v => v * v) / n) + 1e-6), rmsX = Math.Sqrt((row.Sum(v => v * v) / n) + 1e-5);
            for (int j = 0; j < n; j++)
            {
                int at = (r * n) + j;
                Near(y[at], Math.Exp(row[j] - max) / sum, r, j, "softmax");
                Near(l[at], row[j] - max - Math.Log(sum), r, j, "log_softmax");
                Near(s[at], summed[j], r, j, "residual sum");
                Near(normed[at], summed[j] / rmsSum * w[j], r, j, "rms_norm of the sum");
                Near(plain[at], row[j] / rmsX, r, j, "rms_norm");
            }
        }
    }

    public static TheoryData<int, int, DType> Shapes()
    {
        var data = new TheoryData<int, int, DType>();
        foreach (var dt in new[] { DType.F32, DType.F16, DType.BF16 })
        {
            foreach (int rows in new[] { 1, 5 })
            {
                foreach (int n in new[] { 8, 136, 392, 512 }) data.Add(rows, n, dt);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void HeldAndCachedFormsMatchTheReference(int rows, int n, DType dt)
    {
        var x = Input("x", dt, Shape.Of(rows, n));
        var res = Input("res", dt, Shape.Of(rows, n));
        var w = Input("w", dt, Shape.Of(n));
        var stream = Binary(Op.Add, x, res);
        var normed = RmsNorm(stream, w, 1e-5);
        var g = new Graph([x, res, w], [Softmax(x, 1), LogSoftmax(x, 1), RmsNorm(x, null, 1e-6), normed, Binary(Op.Add, stream, Binary(Op.Mul, normed, 0.5))]);
        var inputs = g.Inputs.Select((i, k) => BackendCases.Random(new Random(n + rows + k), i.DType, [.. i.Shape.Select(d => (int)d.Value)])).ToArray();
        var expected = ReferenceInterpreter.Run(g, inputs);
        var (atol, rtol) = BackendCases.Tol(dt, n);
        foreach (string? cached in new[] { null, "1" })
        {
            Environment.SetEnvironmentVariable(GpuLowering.RowsCachedVariable, cached);
            try
            {
                using var exe = CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu });
                Assert.Null(BackendCases.Compare(expected, exe.Run(inputs), atol, rtol));
            }
            finally
            {
                Environment.SetEnvironmentVariable(GpuLowering.RowsCachedVariable, null);
            }
        }
    }

    private static void Near(float actual, double expected, int r, int j, string what) =>
        Assert.True(Math.Abs(actual - expected) <= 1e-5 + (1e-5 * Math.Abs(expected)), $"{what}, row {r} element {j}: {actual}, expected {expected}");

    private static ArrayView<Quad> Quads(MemoryBuffer1D<float, Stride1D.Dense> buffer) => buffer.View.AsContiguous().Cast<Quad>();
}
