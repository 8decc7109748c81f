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
/// The persistent, software-pipelined row kernels (<see cref="PipelinedRowKernels"/>, <c>CANDLE_GPU_ROWS_PIPELINED=1</c>):
/// launched directly on ILGPU's CPU accelerator with fewer groups than rows (each group loops, the last ones over one
/// row fewer) against softmax, log_softmax and rms_norm (with and without weight and residual) computed here in double
/// precision, with masked (-inf) and NaN rows; and through the backend against the reference interpreter in f32, f16
/// and bf16, for row counts that are and are not multiples of the launch's groups and row lengths the kernels take or
/// leave to the other forms.
/// </summary>
[Collection(EnvironmentSwitchCollection.Name)]
public sealed class PipelinedRowTests
{
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(7, 3, 1)]
    [InlineData(7, 3, 16)]
    [InlineData(8, 3, 17)]
    [InlineData(5, 2, 31)]
    [InlineData(9, 4, 32)]
    public void PipelinedKernelsMatchAScalarComputation(int rows, int groups, int octets)
    {
        const int Group = 16;
        int n = octets * 8;
        var rng = new Random((rows * 100) + octets);
        float[] x = [.. Enumerable.Range(0, rows * n).Select(_ => (float)((rng.NextDouble() * 6) - 3))];
        float[] res = [.. Enumerable.Range(0, rows * n).Select(_ => (float)((rng.NextDouble() * 2) - 1))];
        float[] w = [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5))];
        if (rows > 2)
        {
            // Row 1 partly masked (softmax over the rest), row 2 with a NaN (every result of the row NaN).
            for (int j = 0; j < n; j += 3) x[n + j] = float.NegativeInfinity;
            x[(2 * n) + (n / 2)] = float.NaN;
        }

        using var context = Context.Create(b => b.CPU().EnableAlgorithms());
        using var acc = context.CreateCPUAccelerator(0);
        Assert.True(acc.MaxNumThreadsPerGroup >= Group);
        using var xb = acc.Allocate1D(x);
        using var rb = acc.Allocate1D(res);
        using var wb = acc.Allocate1D(w);
        using var sb = acc.Allocate1D<float>(rows * n);
        using var yb = acc.Allocate1D<float>(rows * n);
        using var lb = acc.Allocate1D<float>(rows * n);
        using var nb = acc.Allocate1D<float>(rows * n);
        using var ub = acc.Allocate1D<float>(rows * n);
        var config = new KernelConfig(groups, Group);
        var softmax = acc.LoadStreamKernel<ArrayView<Quad>, ArrayView<Quad>, int, int, int>(PipelinedRowKernels.Softmax<F32Octets, SharedReducer>);
        softmax(config, Quads(xb), Quads(yb), rows, octets, 0);
        softmax(config, Quads(xb), Quads(lb), rows, octets, 1);
        var rms = acc.LoadStreamKernel<ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, int, int, int, int, float>(PipelinedRowKernels.RmsNorm<F32Octets, SharedReducer>);
        rms(config, Quads(xb), Quads(wb), Quads(rb), Quads(sb), Quads(nb), rows, octets, 1, 1, 1e-6f);
        rms(config, Quads(xb), Quads(wb), Quads(xb), Quads(xb), Quads(ub), rows, octets, 0, 0, 1e-5f);
        acc.Synchronize();
        float[] y = yb.GetAsArray1D(), l = lb.GetAsArray1D(), s = sb.GetAsArray1D(), normed = nb.GetAsArray1D(), plain = ub.GetAsArray1D();
        for (int r = 0; r < rows; r++)
        {
            double[] row = [.. x.AsSpan(r * n, n).ToArray().Select(v => (double)v)];
            double[] summed = [.. Enumerable.Range(0, n).Select(j => (double)(x[(r * n) + j] + res[(r * n) + j]))];
            bool nan = row.Any(double.IsNaN);
            double max = nan ? double.NaN : row.Max(), sum = row.Sum(v => Math.Exp(v - max));
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
            foreach (int rows in new[] { 1, 5, 7 })
            {
                // Two octets a thread or fewer at the CPU accelerator's groups (taken), more (left to the held kernels), and
                // a length that is no whole number of octets (left to the scalar kernels).
                foreach (int n in new[] { 8, 136, 256, 392, 100 }) data.Add(rows, n, dt);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void PipelinedFormsMatchTheReference(int rows, int n, DType dt)
    {
        var x = Input("x", dt, Shape.Of(rows, n));
        var res = Input("res", dt, Shape.Of(rows, n));
        var w = Input("w", dt, Shape.Of(n));
        var stream = Binary(Op.Add, x, res);
        var normed = RmsNorm(stream, w, 1e-5);

        // The residual norm is no graph output of its own (else its add stays apart): its sum and it are read by an add.
        var g = new Graph([x, res, w], [Softmax(x, 1), LogSoftmax(x, 1), RmsNorm(x, null, 1e-6), RmsNorm(x, w, 1e-6), Binary(Op.Add, stream, Binary(Op.Mul, normed, 0.5))]);
        var inputs = g.Inputs.Select((i, k) => BackendCases.Random(new Random(n + rows + k), i.DType, [.. i.Shape.Select(d => (int)d.Value)])).ToArray();
        var expected = ReferenceInterpreter.Run(g, inputs);
        var (atol, rtol) = BackendCases.Tol(dt, n);
        var trace = Run(g, inputs, expected, atol, rtol);
        var acc = GpuBackend.GetDevice("ilgpu-cpu").Accelerator;
        int maxGroup = Math.Min(1024, acc.MaxNumThreadsPerGroup);
        bool fits = n % 8 == 0 && n / 8 <= PipelinedRowKernels.MaxOctetsPerThread * maxGroup;
        if (!fits)
        {
            Assert.Empty(trace);
            return;
        }

        // softmax, log_softmax, rms_norm without and with weight, the residual form: one pipelined launch each, with
        // fewer groups than rows where the rows exceed the CPU accelerator's few groups.
        Assert.Equal(5, trace.Count);
        Assert.Single(trace, t => t.Residual);
        Assert.All(trace, t =>
        {
            Assert.Equal(rows, t.Rows);
            Assert.Equal(Math.Min(rows, GpuLowering.PipelinedCpuGroups), t.Grid);
            Assert.True((long)t.Group * PipelinedRowKernels.MaxOctetsPerThread >= n / 8);
        });
    }

    [Theory]
    [InlineData(7, 136, DType.F32)]
    [InlineData(7, 256, DType.F16)]
    [InlineData(5, 136, DType.BF16)]
    [InlineData(7, 256, DType.BF16)]
    public void ResultsAreThoseOfTheHeldKernelsBitForBit(int rows, int n, DType dt)
    {
        // The same operations in the same order as the register-held kernels (the default, checked against the
        // reference in HeldRowTests): the residual sum rounded to its dtype before the norm, as the held kernels read it back.
        var x = Input("x", dt, Shape.Of(rows, n));
        var res = Input("res", dt, Shape.Of(rows, n));
        var w = Input("w", dt, Shape.Of(n));
        var stream = Binary(Op.Add, x, res);
        var g = new Graph([x, res, w], [Softmax(x, 1), LogSoftmax(x, 1), RmsNorm(x, w, 1e-6), Binary(Op.Add, stream, Binary(Op.Mul, RmsNorm(stream, w, 1e-5), 0.5))]);
        var inputs = g.Inputs.Select((i, k) => BackendCases.Random(new Random(n + k), i.DType, [.. i.Shape.Select(d => (int)d.Value)])).ToArray();
        HostTensor[] held;
        using (var exe = CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu }))
        {
            held = exe.Run(inputs);
        }

        var trace = Run(g, inputs, held, 0, 0);
        Assert.Equal(4, trace.Count);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void MaskedAndNaNRowsMatchTheReference(DType dt)
    {
        const int Rows = 7, N = 64;
        float[] values = [.. Enumerable.Range(0, Rows * N).Select(i => (float)Math.Sin(i * 0.37) * 3)];
        for (int j = 0; j < N; j += 2) values[N + j] = float.NegativeInfinity;
        for (int j = 0; j < N - 1; j++) values[(3 * N) + j] = float.NegativeInfinity;
        values[(5 * N) + 9] = float.NaN;
        var t = HostTensor.FromArray(values, Rows, N);
        if (dt != DType.F32) t = t.Cast(dt);
        var x = Input("x", dt, Shape.Of(Rows, N));
        var g = new Graph([x], [Softmax(x, 1), LogSoftmax(x, 1)]);
        HostTensor[] inputs = [t];
        var expected = ReferenceInterpreter.Run(g, inputs);
        var (atol, rtol) = BackendCases.Tol(dt, N);

        // log_softmax of a masked element is -inf in both (the shared comparison takes no infinities): compared apart.
        var masked = new List<(HostTensor Expected, HostTensor Actual)>();
        var trace = Run(g, inputs, expected, atol, rtol, masked);
        Assert.Equal(2, trace.Count);
        Assert.Contains(masked, p => Enumerable.Range(0, Rows * N).Any(i => double.IsNegativeInfinity(p.Expected.GetDouble(i))));
        foreach (var (e, a) in masked)
        {
            for (long i = 0; i < Rows * N; i++)
            {
                double ev = e.GetDouble(i), av = a.GetDouble(i);
                if (double.IsInfinity(ev) || double.IsInfinity(av)) Assert.True(ev == av, $"element {i}: {av}, expected {ev}");
            }
        }
    }

    [Fact]
    public void AnUnknownSwitchValueIsRefusedByName()
    {
        var x = Input("x", DType.F32, Shape.Of(2, 16));
        var g = new Graph([x], [Softmax(x, 1)]);
        Environment.SetEnvironmentVariable(GpuLowering.RowsPipelinedVariable, "yes");
        try
        {
            var e = Assert.ThrowsAny<Exception>(() => CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu }).Dispose());
            Assert.Contains(GpuLowering.RowsPipelinedVariable, e.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(GpuLowering.RowsPipelinedVariable, null);
        }
    }

    /// <summary>Runs <paramref name="g"/> with the switch on, compares with <paramref name="expected"/> and returns the pipelined launches.</summary>
    /// <remarks>
    /// With <paramref name="apart"/>, infinities are left out of the comparison (the pairs of expected and actual
    /// outputs are appended there for the caller to compare).
    /// </remarks>
    private static List<(long Rows, int Grid, int Group, bool Residual)> Run(Graph g, HostTensor[] inputs, HostTensor[] expected, double atol, double rtol, List<(HostTensor Expected, HostTensor Actual)>? apart = null)
    {
        var trace = new List<(long Rows, int Grid, int Group, bool Residual)>();
        Environment.SetEnvironmentVariable(GpuLowering.RowsPipelinedVariable, "1");
        try
        {
            using var exe = CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu });
            GpuLowering.PipelinedTrace = trace;
            var actual = exe.Run(inputs);
            if (apart is null)
            {
                Assert.Null(BackendCases.Compare(expected, actual, atol, rtol));
            }
            else
            {
                for (int o = 0; o < expected.Length; o++)
                {
                    apart.Add((expected[o], actual[o]));
                    Assert.Null(BackendCases.Compare([Finite(expected[o])], [Finite(actual[o])], atol, rtol));
                }
            }
        }
        finally
        {
            GpuLowering.PipelinedTrace = null;
            Environment.SetEnvironmentVariable(GpuLowering.RowsPipelinedVariable, null);
        }

        return trace;
    }

    /// <summary>The tensor's values as f64 with infinities replaced by 0 (compared apart).</summary>
    private static HostTensor Finite(HostTensor t)
    {
        int[] shape = t.ShapeArray();
        long n = shape.Aggregate(1L, (a, b) => a * b);
        var v = new double[n];
        for (long i = 0; i < n; i++) v[i] = double.IsInfinity(t.GetDouble(i)) ? 0 : t.GetDouble(i);
        return HostTensor.FromArray(v, shape);
    }

    private static void Near(float actual, double expected, int r, int j, string what)
    {
        if (double.IsNaN(expected))
        {
            Assert.True(float.IsNaN(actual), $"{what}, row {r} element {j}: {actual}, expected NaN");
            return;
        }

        if (double.IsInfinity(expected))
        {
            Assert.True(actual == expected, $"{what}, row {r} element {j}: {actual}, expected {expected}");
            return;
        }

        Assert.True(Math.Abs(actual - expected) <= 1e-5 + (1e-5 * Math.Abs(expected)), $"{what}, row {r} element {j}: {actual}, expected {expected}");
    }

    private static ArrayView<Quad> Quads(MemoryBuffer1D<float, Stride1D.Dense> buffer) => buffer.View.AsContiguous().Cast<Quad>();
}
