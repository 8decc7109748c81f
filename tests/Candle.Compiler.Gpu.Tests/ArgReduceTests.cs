using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// argmax and argmin over rows as <see cref="ReduceCall"/>s run by <see cref="RowKernels.ArgReduce{TX, TXS, TR}"/>, on
/// ILGPU's CPU accelerator and on CUDA where there is one, against the reference interpreter: rows of one element up to
/// a 32000-token vocabulary, f32/f16/bf16, values drawn from a few levels so that most rows have ties (the first index
/// wins), rows with NaNs (the first NaN wins), rows of infinities and signed zeros, and a reduction over a middle axis.
/// </summary>
public class ArgReduceTests
{
    public static TheoryData<int, int, DType> Cases() => new()
    {
        { 1, 1, DType.F32 },
        { 7, 37, DType.F32 },
        { 6, 32000, DType.F32 },
        { 6, 32000, DType.F16 },
        { 6, 1000, DType.BF16 },
        { 6, 4099, DType.F16 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReferenceInterpreter(int rows, int length, DType dt) => Check(rows, length, dt, GpuBackends.IlgpuCpu);

    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void CudaMatchesTheReferenceInterpreter(int rows, int length, DType dt) => Check(rows, length, dt, GpuBackends.Cuda);

    [Fact]
    public void A_middle_axis_is_reduced_as_the_reference_interpreter_does()
    {
        var x = Input("x", DType.F32, Shape.Of(3, 50, 4));
        var g = new Graph([x], [ArgReduce(Op.ArgMax, x, 1), ArgReduce(Op.ArgMin, x, 1, keepDim: true)]);
        var input = Rows(new Random(5), 3 * 4, 50, DType.F32, [3, 50, 4]);
        using var exe = CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu });
        AssertSame(ReferenceInterpreter.Run(g, [input]), exe.Run([input]));
    }

    [Fact]
    public void An_integer_row_is_refused_with_a_message_naming_the_dtype()
    {
        var x = Input("x", DType.I64, Shape.Of(2, 5));
        var g = new Graph([x], [ArgReduce(Op.ArgMax, x, -1)]);
        var e = Assert.ThrowsAny<NotSupportedException>(() => CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu }));
        Assert.Contains("int64", e.Message, StringComparison.Ordinal);
    }

    private static void Check(int rows, int length, DType dt, IBackend backend)
    {
        var x = Input("x", dt, Shape.Of(rows, length));
        var g = new Graph([x], [ArgReduce(Op.ArgMax, x, -1), ArgReduce(Op.ArgMin, x, -1)]);
        var input = Rows(new Random(rows + length), rows, length, dt, [rows, length]);
        using var exe = (GpuExecutable)CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = backend });
        Assert.Equal(2, exe.Kernels.Calls.OfType<ReduceCall>().Count(c => c.Op is Op.ArgMax or Op.ArgMin));
        AssertSame(ReferenceInterpreter.Run(g, [input]), exe.Run([input]));
    }

    // Rows of a few levels (ties everywhere); row 1 holds NaNs (one late, one early but after a maximum), row 2 only
    // infinities and a late NaN-free maximum, row 3 signed zeros below a run of equal maxima, row 4 all equal, row 5 all NaN.
    private static HostTensor Rows(Random rng, int rows, int length, DType dt, int[] shape)
    {
        var v = new float[rows * length];
        for (int i = 0; i < v.Length; i++) v[i] = rng.Next(-6, 7) / 4f;
        void Row(int r, Action<Span<float>> fill)
        {
            if (r < rows) fill(v.AsSpan(r * length, length));
        }

        Row(1, s =>
        {
            s[^1] = float.NaN;
            if (s.Length > 3) s[s.Length / 3] = float.NaN;
        });
        Row(2, s =>
        {
            for (int j = 0; j < s.Length; j++) s[j] = j % 3 == 0 ? float.NegativeInfinity : float.PositiveInfinity;
        });
        Row(3, s =>
        {
            for (int j = 0; j < s.Length; j++) s[j] = j % 2 == 0 ? -0f : 0f;
            for (int j = s.Length / 2; j < s.Length; j += 7) s[j] = 3f;
        });
        Row(4, s => s.Fill(0.5f));
        Row(5, s => s.Fill(float.NaN));
        return HostTensor.FromArray(v, shape).Cast(dt);
    }

    private static void AssertSame(HostTensor[] expected, HostTensor[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(DType.I64, actual[i].DType);
            Assert.Equal(expected[i].Shape, actual[i].Shape);
            Assert.Equal(expected[i].AsSpan<long>().ToArray(), actual[i].AsSpan<long>().ToArray());
        }
    }
}
