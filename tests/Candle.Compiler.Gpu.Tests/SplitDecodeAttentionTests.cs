using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Tests.BackendMatrix;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// Split-K decode attention (<see cref="Kernels.AttentionKernels.DecodePartial{T, TS, TM, TMS, TR}"/> and its combine)
/// on ILGPU's CPU accelerator against the reference interpreter: contexts of 1, 7 and 300 keys, GQA, causal,
/// bool masks hiding the tail of a fixed-size cache (whole chunks masked), additive float masks with -inf, several
/// query rows, f32/f16/bf16. Head dims of 64 and 32: on the test device (warps of 4 lanes) the 16-bit rows of 64 and the
/// f32 rows of 32 take the key-lane kernels (<see cref="Kernels.DecodeAttentionKernels"/>), the f32 rows of 64 the
/// split-K group kernels.
/// </summary>
[Collection(EnvironmentSwitchCollection.Name)]
public class SplitDecodeAttentionTests
{
    public static TheoryData<DType, int, int> Contexts()
    {
        var data = new TheoryData<DType, int, int>();
        foreach (var dt in new[] { DType.F32, DType.F16, DType.BF16 })
        {
            foreach (int ctx in new[] { 1, 7, 300 })
            {
                data.Add(dt, ctx, 64);
                data.Add(dt, ctx, 32);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Contexts))]
    public void MatchesTheReferenceInterpreter(DType dt, int ctx, int dim) => Check(dt, ctx, dim);

    /// <summary>The key-lane kernels as two launches (chunks, then merge), the path <see cref="GpuLowering.DecodeTwoPassVariable"/> keeps.</summary>
    [Theory]
    [MemberData(nameof(Contexts))]
    public void TwoLaunchesMatchTheReferenceInterpreter(DType dt, int ctx, int dim)
    {
        string? before = Environment.GetEnvironmentVariable(GpuLowering.DecodeTwoPassVariable);
        Environment.SetEnvironmentVariable(GpuLowering.DecodeTwoPassVariable, "1");
        try
        {
            Check(dt, ctx, dim);
        }
        finally
        {
            Environment.SetEnvironmentVariable(GpuLowering.DecodeTwoPassVariable, before);
        }
    }

    /// <summary>
    /// Shapes whose value rows are at most a test warp's width in quads (16-bit rows of 32 and 16, f32 rows of 16), so
    /// that the key-lane kernels take the early value loads (<see cref="GpuLowering.DecodeEarlyValuesVariable"/>).
    /// </summary>
    public static TheoryData<DType, int, int> EarlyContexts()
    {
        var data = new TheoryData<DType, int, int>();
        foreach (int ctx in new[] { 1, 7, 300 })
        {
            data.Add(DType.F16, ctx, 32);
            data.Add(DType.BF16, ctx, 16);
            data.Add(DType.F32, ctx, 16);
        }

        return data;
    }

    /// <summary>The key-lane kernels with each lane's first value quads loaded before its keys are read.</summary>
    [Theory]
    [MemberData(nameof(EarlyContexts))]
    public void EarlyValueLoadsMatchTheReferenceInterpreter(DType dt, int ctx, int dim)
    {
        int warp = GpuBackend.GetDevice("ilgpu-cpu").Accelerator.WarpSize;
        int valueQuads = dim / (dt == DType.F32 ? 4 : 8);
        Assert.True(Kernels.DecodeAttentionKernels.Fits(valueQuads, warp) && valueQuads <= warp, $"rows of {valueQuads} quads on warps of {warp} do not take the early loads");
        string? before = Environment.GetEnvironmentVariable(GpuLowering.DecodeEarlyValuesVariable);
        Environment.SetEnvironmentVariable(GpuLowering.DecodeEarlyValuesVariable, "1");
        try
        {
            Check(dt, ctx, dim);
        }
        finally
        {
            Environment.SetEnvironmentVariable(GpuLowering.DecodeEarlyValuesVariable, before);
        }
    }

    private static void Check(DType dt, int ctx, int dim)
    {
        var rng = new Random(ctx + dim);
        var q = Input("q", dt, Shape.Of(2, 8, 1, dim));
        var q3 = Input("q3", dt, Shape.Of(1, 4, 3, dim));
        var k = Input("k", dt, Shape.Of(2, 2, ctx, dim));
        var v = Input("v", dt, Shape.Of(2, 2, ctx, dim));
        var bm = Input("bm", DType.Bool, Shape.Of(2, 1, 1, ctx));
        var fm = Input("fm", dt, Shape.Of(2, 8, 1, ctx));
        var g = new Graph(
            [q, q3, k, v, bm, fm],
            [Attention(q, k, v, causal: true), Attention(q, k, v, bm), Attention(q, k, v, fm), Attention(q3, Slice(k, 0, 0, 1), Slice(v, 0, 0, 1), causal: true)]);
        var inputs = g.Inputs.Select(i => BackendCases.Random(rng, i.DType, [.. i.Shape.Select(d => (int)d.Value)], -1, 1)).ToArray();

        // A fixed-size cache at position p: keys after p hold garbage the bool mask hides (the whole tail, so the last
        // chunks see no key); the float mask adds -inf past p and small values before it.
        int p = ctx == 1 ? 0 : (ctx / 3) + 1;
        for (int b = 0; b < 2; b++)
        {
            for (int j = 0; j < ctx; j++) inputs[4].SetDouble((b * ctx) + j, j <= p ? 1 : 0);
            for (int h = 0; h < 8; h++)
            {
                for (int j = p + 1; j < ctx; j++) inputs[5].SetDouble((((b * 8) + h) * ctx) + j, double.NegativeInfinity);
            }
        }

        for (long i = 0; i < 2L * 2 * ctx * dim; i++)
        {
            if ((i / dim) % ctx > p) inputs[2].SetDouble(i, 3.0 * (i % 3 == 0 ? -1 : 1));
        }

        var expected = ReferenceInterpreter.Run(g, inputs);
        var (atol, rtol) = BackendCases.Tol(dt, dim);
        using var exe = CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu });
        // Every run after the first finds the per-row counters the one-launch kernel left at zero.
        for (int run = 0; run < (ctx < 100 ? 3 : 2); run++)
        {
            Assert.Null(BackendCases.Compare(expected, exe.Run(inputs), atol, rtol));
        }
    }

    [Fact]
    public void LongContextsSplitOnTheTestDevice()
    {
        var lowering = new GpuLowering(GpuBackend.GetDevice("ilgpu-cpu"), null, new Dictionary<ElementwiseSpec, string>());
        var (_, chunks) = GpuLowering.DecodeSplit(16, 300, lowering.DecodeMultiprocessors);
        Assert.True(chunks > 1, $"{chunks} chunk(s): the split kernel would not run");
    }

    [Fact]
    public void TheKeyLaneKernelsTakeTheTestShapes()
    {
        var device = GpuBackend.GetDevice("ilgpu-cpu");
        var lowering = new GpuLowering(device, null, new Dictionary<ElementwiseSpec, string>());
        int warp = device.Accelerator.WarpSize;
        Assert.True(Kernels.DecodeAttentionKernels.Fits(64 / 8, warp), $"16-bit rows of 64 on warps of {warp}");
        Assert.True(Kernels.DecodeAttentionKernels.Fits(32 / 4, warp), $"f32 rows of 32 on warps of {warp}");
        Assert.True(GpuLowering.DecodeKeySplit(16, 300, lowering.DecodeMultiprocessors, warp).Chunks > 1);
        Assert.True(GpuLowering.DecodeKeySplit(16, 7, lowering.DecodeMultiprocessors, warp).Chunks > 1);
    }

    [Theory]
    [InlineData(32, 384, 132, 32)]
    [InlineData(32, 4096, 132, 32)]
    [InlineData(1, 100000, 132, 32)]
    [InlineData(16, 7, 8, 4)]
    [InlineData(1, 1, 132, 32)]
    public void KeyLaneChunksAreWholeWarpsAndCoverTheKeysOnce(long rows, long sk, int sms, int warp)
    {
        var (chunk, chunks) = GpuLowering.DecodeKeySplit(rows, sk, sms, warp);
        Assert.Equal(0, chunk % warp);
        Assert.InRange(chunks, 1, Kernels.DecodeAttentionKernels.MaxChunks);
        Assert.True((long)chunk * chunks >= sk);
        Assert.True((long)chunk * (chunks - 1) < Math.Max(1, sk));
    }

    [Theory]
    [InlineData(32, 384, 132)]
    [InlineData(32, 128, 132)]
    [InlineData(1, 1, 132)]
    [InlineData(8, 7, 2)]
    [InlineData(4096, 100000, 2)]
    public void ChunksCoverTheKeysOnce(long rows, long sk, int sms)
    {
        var (chunk, chunks) = GpuLowering.DecodeSplit(rows, sk, sms);
        Assert.True(chunk >= 8);
        Assert.True((long)chunk * chunks >= sk);
        Assert.True((long)chunk * (chunks - 1) < Math.Max(1, sk));
    }
}
