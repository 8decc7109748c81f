using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Tests.BackendMatrix;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// Sums and means over leading dims (bias gradients) as <see cref="ColumnReduceCall"/>s read in place by
/// <see cref="ColumnKernels"/>, with no transposing copy, on ILGPU's CPU accelerator and on CUDA where there is one,
/// against the reference interpreter: row counts below one lane's share, between and far above one chunk, column
/// counts that leave part of a 32-column tile, rank 2 and 3 with and without kept dims, f32/f16/bf16; the same bits on
/// every run.
/// </summary>
public class ColumnReduceTests
{
    public static TheoryData<int, int, int, DType> Cases() => new()
    {
        { 1, 1, 5, DType.F32 },
        { 1, 3, 40, DType.F32 },
        { 1, 37, 33, DType.F32 },
        { 1, 1000, 40, DType.F32 },
        { 4, 64, 64, DType.F32 },
        { 2, 133, 72, DType.F16 },
        { 3, 43, 96, DType.BF16 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReferenceInterpreter(int batch, int rows, int columns, DType dt) => Check(batch, rows, columns, dt, GpuBackends.IlgpuCpu);

    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void CudaMatchesTheReferenceInterpreter(int batch, int rows, int columns, DType dt) => Check(batch, rows, columns, dt, GpuBackends.Cuda);

    public static TheoryData<int, int, DType> ProductCases() => new()
    {
        { 1, 7, DType.F32 },
        { 37, 33, DType.F32 },
        { 1000, 40, DType.F32 },
        { 133, 72, DType.F16 },
        { 43, 96, DType.BF16 },
    };

    /// <summary>
    /// Σ x·y over the rows (a layer norm's weight gradient) is one column reduction over both factors: no product is
    /// written; a product that is also returned keeps its own kernel and the plain column sum.
    /// </summary>
    [Theory]
    [MemberData(nameof(ProductCases))]
    public void A_sum_of_products_over_leading_rows_reads_both_factors(int rows, int columns, DType dt)
    {
        var x = Input("x", dt, Shape.Of(rows, columns));
        var y = Input("y", dt, Shape.Of(rows, columns));
        var rng = new Random(rows + columns);
        HostTensor[] inputs = [BackendCases.Random(rng, dt, [rows, columns], -1, 1), BackendCases.Random(rng, dt, [rows, columns], -1, 1)];
        double tol = dt == DType.F32 ? 1e-5 : 1e-2;

        var g = new Graph([x, y], [Reduce(Op.Sum, Binary(Op.Mul, x, y), [0]), Reduce(Op.Mean, Binary(Op.Mul, Unary(Op.Exp, x), y), [0])]);
        using var exe = (GpuExecutable)CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu });
        var merged = exe.Kernels.Calls.OfType<ColumnReduceCall>().ToList();
        Assert.Single(merged, c => c.X2 >= 0);
        Assert.Single(exe.Kernels.Calls.OfType<ElementwiseCall>());
        Assert.Null(BackendCases.Compare(ReferenceInterpreter.Run(g, inputs), exe.Run(inputs), tol * Math.Sqrt(rows), tol));

        var product = Binary(Op.Mul, x, y);
        var kept = new Graph([x, y], [Reduce(Op.Sum, product, [0]), product]);
        using var keptExe = (GpuExecutable)CandleCompiler.CompileExecutable(kept, new CompileOptions { Backend = GpuBackends.IlgpuCpu });
        Assert.All(keptExe.Kernels.Calls.OfType<ColumnReduceCall>(), c => Assert.Equal(-1, c.X2));
        Assert.Null(BackendCases.Compare(ReferenceInterpreter.Run(kept, inputs), keptExe.Run(inputs), tol * Math.Sqrt(rows), tol));
    }

    [Fact]
    public void ChunksCoverEveryRowOnce()
    {
        foreach (long rows in new long[] { 0, 1, 7, 31, 32, 33, 100, 1024, 4095, 65536, 1 << 20 })
        {
            foreach (long columns in new long[] { 1, 31, 768, 3072, 50257 })
            {
                var (chunks, chunkRows) = ColumnKernels.Chunks(rows, columns);
                Assert.InRange(chunks, 1, 256);
                Assert.True((long)chunks * chunkRows >= rows, $"{rows}x{columns}: {chunks} chunks of {chunkRows} rows");
                Assert.True((long)(chunks - 1) * chunkRows < Math.Max(rows, 1), $"{rows}x{columns}: chunk {chunks - 1} starts past the rows");
            }
        }
    }

    private static void Check(int batch, int rows, int columns, DType dt, GpuBackend backend)
    {
        var x = Input("x", dt, Shape.Of(batch, rows, columns));
        var outputs = new List<Node>
        {
            Reduce(Op.Sum, x, [0, 1]),
            Reduce(Op.Mean, x, [0, 1], keepDim: true),
            Reduce(Op.Sum, x, [0]),
            Reduce(Op.Mean, Binary(Op.Mul, x, 2.0), [0]),
        };
        var g = new Graph([x], outputs);
        var rng = new Random((batch * 1000) + rows + columns);
        var inputs = new[] { BackendCases.Random(rng, dt, [batch, rows, columns], -1, 1) };
        var expected = ReferenceInterpreter.Run(g, inputs);
        using var exe = (GpuExecutable)CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = backend });
        Assert.Contains(exe.Kernels.Calls, c => c is ColumnReduceCall);
        Assert.DoesNotContain(exe.Kernels.Calls, c => c is ReduceCall or CopyCall);
        var first = exe.Run(inputs);
        double tol = dt == DType.F32 ? 1e-5 : 1e-2;
        Assert.Null(BackendCases.Compare(expected, first, tol * Math.Sqrt(rows * batch), tol));
        var second = exe.Run(inputs);
        for (int o = 0; o < first.Length; o++) Assert.Equal(first[o].Data.ToArray(), second[o].Data.ToArray());
    }
}
