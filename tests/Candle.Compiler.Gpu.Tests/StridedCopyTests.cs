using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Tests.BackendMatrix;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// The strided copy (<see cref="MemoryKernels.Copy{T}"/>: coordinates once per thread by multiply-shift division,
/// several elements a thread along a unit-stride inner dim, a plain device copy where both views are dense) on
/// ILGPU's CPU accelerator, and on CUDA where there is one, against the reference interpreter: permuted, sliced
/// (offset) and concatenated-into (strided destination) views of ranks 1 to 6 in 1-, 2-, 4- and 8-byte dtypes,
/// inner dims that leave a tail after whole vectors; and the division itself against integer division.
/// </summary>
public class StridedCopyTests
{
    public static TheoryData<DType, int> Cases()
    {
        var data = new TheoryData<DType, int>();
        foreach (var dt in new[] { DType.F32, DType.F16, DType.Bool, DType.I64 })
        {
            for (int rank = 1; rank <= 6; rank++) data.Add(dt, rank);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReferenceInterpreter(DType dt, int rank) => Check(dt, rank, GpuBackends.IlgpuCpu);

    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void CudaMatchesTheReferenceInterpreter(DType dt, int rank) => Check(dt, rank, GpuBackends.Cuda);

    private static void Check(DType dt, int rank, IBackend backend)
    {
        // Inner dims of 37 (vectors of 4, 8 or 16 elements and a tail) at low ranks, short odd dims above.
        long[] dims = rank <= 3 ? [.. new long[] { 3, 5, 37 }[(3 - rank)..]] : [.. new long[] { 2, 3, 2, 5, 3, 19 }[(6 - rank)..]];
        var x = Input("x", dt, Shape.Of(dims));
        int[] reversed = [.. Enumerable.Range(0, rank).Reverse()];
        int[] keepLast = rank >= 3 ? [1, 0, .. Enumerable.Range(2, rank - 2)] : [.. Enumerable.Range(0, rank)];
        int last = rank - 1;
        var outputs = new List<Node>
        {
            Reshape(Permute(x, reversed), dims.Aggregate(1L, (p, d) => p * d)),
            Reshape(Slice(x, last, 1, dims[last] - 1), dims.Take(last).Aggregate(1L, (p, d) => p * d) * (dims[last] - 2)),
            Concat([x, Slice(x, last, 2, null)], last),
            Concat([x, x], 0),
            Reshape(Permute(Slice(x, 0, 1, null), keepLast), -1),
        };
        var g = new Graph([x], outputs);
        var rng = new Random(rank);
        var inputs = g.Inputs.Select(i => BackendCases.Random(rng, i.DType, [.. i.Shape.Select(v => (int)v.Value)], -100, 100)).ToArray();
        var expected = ReferenceInterpreter.Run(g, inputs);
        using var exe = CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = backend });
        Assert.Null(BackendCases.Compare(expected, exe.Run(inputs), 0, 0));
    }

    public static TheoryData<DType> Dtypes() => [DType.F32, DType.F16, DType.Bool, DType.I64];

    /// <summary>Copies that read along one dim and write along another, both long enough for the tiled transpose, with batch dims around them and tails in every tile.</summary>
    [Theory]
    [MemberData(nameof(Dtypes))]
    public void TransposedCopiesMatchTheReferenceInterpreter(DType dt) => CheckTransposes(dt, GpuBackends.IlgpuCpu);

    [CudaTheory]
    [MemberData(nameof(Dtypes))]
    public void CudaTransposedCopiesMatchTheReferenceInterpreter(DType dt) => CheckTransposes(dt, GpuBackends.Cuda);

    private static void CheckTransposes(DType dt, IBackend backend)
    {
        var x = Input("x", dt, Shape.Of(20, 3, 45));
        var y = Input("y", dt, Shape.Of(2, 37, 3, 18));
        var outputs = new List<Node>
        {
            Reshape(Permute(x, 2, 1, 0), -1),
            Reshape(Permute(y, 0, 3, 2, 1), -1),
            Reshape(Permute(Slice(y, 1, 2, 35), 3, 1, 0, 2), -1),
            Concat([Transpose(Slice(x, 1, 1, 2), 0, 2), Transpose(Slice(x, 1, 0, 1), 0, 2)], 1),
        };
        if (dt.IsFloat()) outputs.Add(Reduce(Op.Sum, Reshape(x, 20, 135), [0]));
        var g = new Graph([x, y], outputs);
        var rng = new Random(3);
        var inputs = g.Inputs.Select(i => BackendCases.Random(rng, i.DType, [.. i.Shape.Select(v => (int)v.Value)], -100, 100)).ToArray();
        var expected = ReferenceInterpreter.Run(g, inputs);
        using var exe = CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = backend });
        var (atol, rtol) = dt.IsFloat() ? BackendCases.Tol(dt, 20) : (0, 0);
        Assert.Null(BackendCases.Compare(expected, exe.Run(inputs), atol * 100, rtol));
    }

    [Fact]
    public void TransposesAreFoundWhereEachViewIsContiguousAlongItsOwnLongDim()
    {
        // A [n, rows] view of a [rows, n] gradient copied dense for a sum over rows: read along dim 4, write along dim 5.
        Assert.Equal((4, 5), GpuLowering.TransposeDims([1, 1, 1, 1, 96, 1024], [0, 0, 0, 0, 1024, 1], [0, 0, 0, 0, 1, 96]));
        Assert.Null(GpuLowering.TransposeDims([1, 1, 1, 8, 128, 64], [0, 0, 0, 8192, 64, 1], [0, 0, 0, 8192, 768, 1]));
        Assert.Null(GpuLowering.TransposeDims([1, 1, 1, 1, 8, 1024], [0, 0, 0, 0, 1024, 1], [0, 0, 0, 0, 1, 8]));
    }

    public static TheoryData<long> Divisors() => [1, 2, 3, 5, 7, 12, 37, 64, 65, 127, 1000, 65535, 65536, 65537, 1 << 20, 3 * (1 << 20) + 1, int.MaxValue / 3, (1L << 30) + 1, int.MaxValue];

    [Theory]
    [MemberData(nameof(Divisors))]
    public void MultiplyShiftDivisionIsExact(long d)
    {
        var (multiplier, shift) = FastDivmod.Magic(d);
        var rng = new Random((int)(d % 1000));
        var ns = new List<int> { 0, 1, (int)Math.Min(d - 1, int.MaxValue), (int)Math.Min(d, int.MaxValue), (int)Math.Min(d + 1, int.MaxValue), int.MaxValue, int.MaxValue - 1 };
        for (int i = 0; i < 2000; i++) ns.Add(rng.Next());
        for (int i = 0; i < 200; i++) ns.Add((int)Math.Min(int.MaxValue, d * rng.Next(0, 64) + rng.Next(-1, 2)) is var n && n >= 0 ? n : 0);
        foreach (int n in ns) Assert.Equal(n / d, FastDivmod.Divide(n, multiplier, shift));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-3L)]
    [InlineData(1L << 31)]
    public void DivisorsOutsideTheRangeAreRejected(long d) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => FastDivmod.Magic(d));
}
