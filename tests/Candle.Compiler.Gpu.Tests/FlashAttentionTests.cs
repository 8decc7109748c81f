using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Tests.BackendMatrix;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// The tiled prefill attention (<see cref="Kernels.FlashAttentionKernels"/>) on ILGPU's CPU accelerator, and on CUDA
/// where there is one, against the reference interpreter: query counts that are no multiple of the row tile, more keys
/// than queries (causal bottom-right aligned), GQA, queries read through a [batch, seq, heads, dim] permute, bool masks
/// and float masks with -inf, head dims 32, 64, 80 and 128, f32/f16/bf16.
/// </summary>
public class FlashAttentionTests
{
    public static TheoryData<DType, int> Cases()
    {
        var data = new TheoryData<DType, int>();
        foreach (var dt in new[] { DType.F32, DType.F16, DType.BF16 })
        {
            foreach (int d in new[] { 32, 64, 80, 128 }) data.Add(dt, d);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReferenceInterpreter(DType dt, int d) => Check(dt, d, GpuBackends.IlgpuCpu);

    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void CudaMatchesTheReferenceInterpreter(DType dt, int d) => Check(dt, d, GpuBackends.Cuda);

    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    [InlineData(80)]
    [InlineData(128)]
    public void TheTestDeviceRunsTheTiledKernel(int d)
    {
        var lowering = new GpuLowering(GpuBackend.GetDevice("ilgpu-cpu"), null, new Dictionary<ElementwiseSpec, string>());
        var shape = lowering.FlashShape(d, d);
        Assert.NotNull(shape);
        var (rows, threadsPerRow, group) = shape.Value;
        Assert.True(threadsPerRow * Kernels.FlashAttentionKernels.PerThread >= d, $"{threadsPerRow} threads a row cannot hold {d} dims");
        Assert.True(rows >= 1 && rows <= Kernels.FlashAttentionKernels.Rows && rows * threadsPerRow == group);
        Assert.Null(lowering.FlashShape(d + Kernels.FlashAttentionKernels.MaxDim, d));
    }

    private static void Check(DType dt, int d, IBackend backend)
    {
        const int B = 2, H = 4, Hkv = 2, S = 37, Sq = 20, Sk = 45;
        var rng = new Random(d);
        var qt = Input("qt", dt, Shape.Of(B, S, H, d));
        var k = Input("k", dt, Shape.Of(B, Hkv, S, d));
        var v = Input("v", dt, Shape.Of(B, Hkv, S, d));
        var q2 = Input("q2", dt, Shape.Of(B, H, Sq, d));
        var k2 = Input("k2", dt, Shape.Of(B, Hkv, Sk, d));
        var v2 = Input("v2", dt, Shape.Of(B, Hkv, Sk, d));
        var bm = Input("bm", DType.Bool, Shape.Of(B, 1, Sq, Sk));
        var fm = Input("fm", dt, Shape.Of(B, H, Sq, Sk));
        var q = Permute(qt, 0, 2, 1, 3);
        var g = new Graph(
            [qt, k, v, q2, k2, v2, bm, fm],
            [
                Attention(q, k, v, causal: true),
                Attention(q, k, v),
                Attention(q2, k2, v2, causal: true),
                Attention(q2, k2, v2, bm),
                Attention(q2, k2, v2, fm, causal: true),
            ]);
        var inputs = g.Inputs.Select(i => BackendCases.Random(rng, i.DType, [.. i.Shape.Select(x => (int)x.Value)], -1, 1)).ToArray();

        // Every query row keeps key 0 (no row fully masked); the float mask hides a scattering of keys with -inf.
        for (long i = 0; i < (long)B * Sq * Sk; i += Sk) inputs[6].SetDouble(i, 1);
        for (long i = 0; i < (long)B * H * Sq * Sk; i++)
        {
            if (i % Sk != 0 && i % 7 == 3) inputs[7].SetDouble(i, double.NegativeInfinity);
        }

        var expected = ReferenceInterpreter.Run(g, inputs);
        var (atol, rtol) = BackendCases.Tol(dt, d);
        using var exe = CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = backend });
        Assert.Null(BackendCases.Compare(expected, exe.Run(inputs), atol, rtol));
    }
}
