using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Tests.BackendMatrix;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// Batched products over two batch dims whose strides are no single uniform walk (heads read out of [batch, seq,
/// heads, dim]), with either operand transposed: the host-looped split of the batch (<see cref="BatchSplit"/>) against
/// a direct enumeration of the batch, and the products on ILGPU's CPU accelerator (the tiled GEMM) and on CUDA (cuBLAS,
/// one strided-batched call per batch index, or with <see cref="GpuLowering.PointerBatches"/> one call over arrays of
/// the products' addresses) against the reference interpreter.
/// </summary>
public class BatchedProductTests
{
    public static TheoryData<DType> Dtypes() => [DType.F32, DType.F16, DType.BF16];

    [Theory]
    [MemberData(nameof(Dtypes))]
    public void MatchesTheReferenceInterpreter(DType dt) => Check(dt, GpuBackends.IlgpuCpu);

    [CudaTheory]
    [MemberData(nameof(Dtypes))]
    public void CudaMatchesTheReferenceInterpreter(DType dt) => CheckCuda(dt, pointerArrays: false);

    [CudaTheory]
    [MemberData(nameof(Dtypes))]
    public void CudaPointerArraysMatchTheReferenceInterpreter(DType dt) => CheckCuda(dt, pointerArrays: true);

    private static void CheckCuda(DType dt, bool pointerArrays)
    {
        bool was = GpuLowering.PointerBatches;
        GpuLowering.PointerBatches = pointerArrays;
        try
        {
            Check(dt, GpuBackends.Cuda);
        }
        finally
        {
            GpuLowering.PointerBatches = was;
        }
    }

    private static void Check(DType dt, IBackend backend)
    {
        const int B = 3, S = 9, H = 4, D = 8;
        var rng = new Random(7);
        var x = Input("x", dt, Shape.Of(B, S, H, D));
        var y = Input("y", dt, Shape.Of(B, S, H, D));
        var w = Input("w", dt, Shape.Of(B, H, S, S));
        var q = Permute(x, 0, 2, 1, 3);
        var k = Permute(y, 0, 2, 1, 3);
        var g = new Graph(
            [x, y, w],
            [
                MatMul(q, Transpose(k, 2, 3)),
                MatMul(w, k),
                MatMul(Transpose(q, 2, 3), k),
                MatMul(Transpose(w, 2, 3), q),
                MatMul(Permute(x, 2, 0, 1, 3), Transpose(Permute(y, 2, 0, 1, 3), 2, 3)),
            ]);
        var inputs = g.Inputs.Select(i => BackendCases.Random(rng, i.DType, [.. i.Shape.Select(v => (int)v.Value)], -1, 1)).ToArray();
        var expected = ReferenceInterpreter.Run(g, inputs);
        var (atol, rtol) = BackendCases.Tol(dt, S);
        using var exe = CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = backend });
        Assert.Null(BackendCases.Compare(expected, exe.Run(inputs), atol, rtol));
    }

    public static TheoryData<long[], long[], long[]> Batches() => new()
    {
        // [batch, heads] over [batch, seq, heads, dim] and a dense operand: 8 calls of 12.
        { [8, 12], [128 * 768, 64], [12 * 128 * 64, 128 * 64] },
        // Uniform already: one call.
        { [8, 12], [12 * 64, 64], [12 * 4, 4] },
        // Size-1 dims anywhere, a broadcast (stride 0) operand.
        { [1, 3, 1, 5], [0, 1000, 7, 10], [0, 0, 3, 0] },
        // Three dims, only the last uniform: 6 calls of 4.
        { [2, 3, 4], [500, 7, 100], [12, 4, 1] },
        // Nothing uniform beyond the last dim.
        { [4, 4, 4], [1, 16, 4], [16, 1, 4] },
    };

    [Theory]
    [MemberData(nameof(Batches))]
    public void SplitEnumeratesTheBatchInOrder(long[] sizes, long[] sa, long[] sb)
    {
        var split = new BatchSplit(sizes.Length);
        Assert.True(split.Split(sizes, sa, sb));
        long total = sizes.Aggregate(1L, (p, s) => p * s);
        Assert.Equal(total, split.OuterCount * split.Inner);
        var got = new List<(long, long)>();
        for (long o = 0; o < split.OuterCount; o++)
        {
            var (a, b) = split.Offsets(o);
            for (long i = 0; i < split.Inner; i++) got.Add((a + (i * split.InnerA), b + (i * split.InnerB)));
        }

        // The oracle: batch z's operand offsets from its row-major coordinates.
        var want = new List<(long, long)>();
        for (long z = 0; z < total; z++)
        {
            long rest = z, a = 0, b = 0;
            for (int d = sizes.Length - 1; d >= 0; d--)
            {
                long c = rest % sizes[d];
                rest /= sizes[d];
                a += c * sa[d];
                b += c * sb[d];
            }

            want.Add((a, b));
        }

        Assert.Equal(want, got);
    }

    [Fact]
    public void HeadsOverTokensSplitIntoOneCallPerBatch()
    {
        var split = new BatchSplit(2);
        Assert.True(split.Split([8, 12], [128 * 768, 64], [12 * 128 * 64, 128 * 64]));
        Assert.Equal((8L, 12L, 64L, 128L * 64), (split.OuterCount, split.Inner, split.InnerA, split.InnerB));
    }

    [Fact]
    public void TooManyHostCallsKeepTheSingleLaunch()
    {
        var split = new BatchSplit(2);
        Assert.False(split.Split([BatchSplit.MaxOuter + 1, 3], [1, 1000], [1, 1000]));
    }
}
