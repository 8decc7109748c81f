using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Tests.BackendMatrix;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// torch.gather and torch.scatter_add (the backward of gathers and embedding lookups) on the GPU backend against the
/// reference interpreter, on ILGPU's CPU accelerator and, where there is one, a CUDA device.
/// </summary>
public class IndexingTests
{
    public static TheoryData<string, int> Cases() => new()
    {
        { "gather_i64", 0 }, { "gather_i64", 1 }, { "gather_i64", 2 }, { "gather_i32", 1 },
        { "scatter_add_f32", 0 }, { "scatter_add_f32", 2 }, { "scatter_add_i64", 1 },
    };

    private static (Graph Graph, HostTensor[] Inputs) Build(string kind, int axis)
    {
        var rng = new Random(5 + axis);
        int[] xs = [5, 4, 6];
        int[] ix = [.. xs];
        ix[axis] = 3;
        var idt = kind.EndsWith("i32", StringComparison.Ordinal) ? DType.I32 : DType.I64;
        var vdt = kind.EndsWith("i64", StringComparison.Ordinal) && kind.StartsWith("scatter", StringComparison.Ordinal) ? DType.I64 : DType.F32;
        if (kind.StartsWith("scatter", StringComparison.Ordinal)) idt = DType.I64;
        var x = Input("x", vdt, new Shape([.. xs.Select(d => (Dim)d)]));
        var index = Input("index", idt, new Shape([.. ix.Select(d => (Dim)d)]));
        var src = Input("src", vdt, new Shape([.. ix.Select(d => (Dim)d)]));
        var idxData = HostTensor.Zeros(idt, ix);
        for (long i = 0; i < idxData.ShapeArray().Aggregate(1L, (a, b) => a * b); i++) idxData.SetDouble(i, rng.Next(xs[axis]));
        var xData = BackendCases.Random(rng, vdt, xs);
        var srcData = BackendCases.Random(rng, vdt, ix);
        if (kind.StartsWith("gather", StringComparison.Ordinal))
        {
            // A strided operand too: the gather of a transposed view is materialized first.
            var t = Transpose(Transpose(x, 0, 2), 0, 2);
            return (new Graph([x, index], [Gather(x, axis, index), Binary(Op.Mul, Gather(t, axis, index), 2.0)]), [xData, idxData]);
        }

        return (new Graph([x, index, src], [ScatterAdd(x, axis, index, src)]), [xData, idxData, srcData]);
    }

    private static void Check(IBackend backend, string kind, int axis)
    {
        var (g, inputs) = Build(kind, axis);
        var expected = ReferenceInterpreter.Run(g, inputs);
        foreach (int level in new[] { 0, 2 })
        {
            using var exe = CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = backend, OptLevel = level });
            Assert.Null(BackendCases.Compare(expected, exe.Run(inputs), 1e-5, 1e-5));
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReferenceOnTheCpuAccelerator(string kind, int axis) => Check(GpuBackends.IlgpuCpu, kind, axis);

    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReferenceOnCuda(string kind, int axis) => Check(GpuBackends.Cuda, kind, axis);

    [Theory]
    [InlineData("gather_i64", 7)]
    [InlineData("gather_i64", -1)]
    [InlineData("scatter_add_f32", 6)]
    public void AnIndexOutOfRangeIsAnErrorNamingTheCall(string kind, long bad)
    {
        var (g, inputs) = Build(kind, 2);
        inputs[1].SetDouble(3, bad);
        using var exe = CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu });
        var e = Assert.Throws<ArgumentException>(() => exe.Run(inputs));
        Assert.Contains(kind.StartsWith("gather", StringComparison.Ordinal) ? "gather" : "scatter_add", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData(50L)]
    public void AnEmbeddingIdOutOfRangeIsAnErrorAsOnTheCpu(long bad)
    {
        var table = Input("table", DType.F32, Shape.Of(50, 4));
        var ids = Input("ids", DType.I64, Shape.Of(3));
        var g = new Graph([table, ids], [IndexSelect(table, 0, ids)]);
        HostTensor[] inputs = [HostTensor.Zeros(DType.F32, 50, 4), HostTensor.FromArray(new long[] { 1, bad, 2 }, 3)];
        using var cpu = CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = BackendRegistry.Get("cpu") });
        Assert.ThrowsAny<Exception>(() => cpu.Run(inputs));
        using var gpu = CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu });
        var e = Assert.Throws<ArgumentException>(() => gpu.Run(inputs));
        Assert.Contains("index_select", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnIndexOutOfRangeOnDeviceTensorsIsReportedByTheNextCheckOnce()
    {
        // A run on device tensors does not wait for the device: the out-of-range id raises the flag, the check after
        // reading the result throws naming the call, and the flag is lowered so that a later good run checks clean.
        var table = Input("table", DType.F32, Shape.Of(50, 4));
        var ids = Input("ids", DType.I64, Shape.Of(3));
        var g = new Graph([table, ids], [IndexSelect(table, 0, ids)]);
        using var exe = CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu });
        var device = Assert.IsAssignableFrom<Candle.Runtime.Execution.IDeviceExecutable>(exe);
        var tableData = BackendCases.Random(new Random(3), DType.F32, [50, 4]);
        using var tableDev = Candle.Runtime.Devices.DeviceTensor.Upload(tableData, device.Device);
        using var bad = Candle.Runtime.Devices.DeviceTensor.Upload(HostTensor.FromArray(new long[] { 1, 50, 2 }, 3), device.Device);
        using var good = Candle.Runtime.Devices.DeviceTensor.Upload(HostTensor.FromArray(new long[] { 4, 0, 49 }, 3), device.Device);
        foreach (var o in device.RunOnDevice([tableDev, bad])) o.Dispose();
        var e = Assert.Throws<ArgumentException>(device.CheckIndexes);
        Assert.Contains("index_select", e.Message, StringComparison.Ordinal);
        device.CheckIndexes();
        var outs = device.RunOnDevice([tableDev, good]);
        var got = outs[0].Download();
        foreach (var o in outs) o.Dispose();
        device.CheckIndexes();
        long[] rows = [4, 0, 49];
        for (int r = 0; r < 3; r++)
        {
            for (int c = 0; c < 4; c++) Assert.Equal(tableData.GetDouble((rows[r] * 4) + c), got.GetDouble((r * 4) + c));
        }

        // A host run after an unchecked bad run on device tensors reports it too (the flag is sticky until checked).
        foreach (var o in device.RunOnDevice([tableDev, bad])) o.Dispose();
        Assert.Throws<ArgumentException>(() => exe.Run([tableData, HostTensor.FromArray(new long[] { 4, 0, 49 }, 3)]));
        Assert.Null(BackendCases.Compare(ReferenceInterpreter.Run(g, [tableData, HostTensor.FromArray(new long[] { 4, 0, 49 }, 3)]), exe.Run([tableData, HostTensor.FromArray(new long[] { 4, 0, 49 }, 3)]), 0, 0));
    }

    [Fact]
    public void CallsWithoutAKernelAreNamedTogether()
    {
        // float16 scatter_add (no atomic add of halves here) and a max pooling: one exception names both, before any
        // device memory is taken.
        var x = Input("x", DType.F16, Shape.Of(4, 3));
        var index = Input("index", DType.I64, Shape.Of(2, 3));
        var src = Input("src", DType.F16, Shape.Of(2, 3));
        var img = Input("img", DType.F32, Shape.Of(1, 1, 5, 5));
        var g = new Graph([x, index, src, img], [ScatterAdd(x, 0, index, src), Pool(Op.MaxPool, img, [2, 2], [2, 2], [0, 0])]);
        var e = Assert.Throws<NotSupportedException>(() => CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu }));
        Assert.Contains("2 kinds of call", e.Message, StringComparison.Ordinal);
        Assert.Contains("scatter_add of float16", e.Message, StringComparison.Ordinal);
        Assert.Contains("PoolCall", e.Message, StringComparison.Ordinal);
    }
}
