using System.Runtime.InteropServices;
using Candle.Compiler.Backends.Metal;
using Candle.Compiler.Backends.Source;
using Candle.Compiler.Ir;
using Candle.Compiler.Tests.Cpu;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Xunit.Abstractions;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Metal;

/// <summary>
/// Generated row kernels (reductions, softmax, norms: one threadgroup per row, simdgroup reductions and threadgroup
/// memory) through the shim against the reference; and that the shim's threadgroup emulation is strict: the same
/// kernel with its barrier removed or moved computes a wrong sum, and a barrier inside a branch is reported.
/// Tolerances: f32 rtol 1e-5 and atol 1e-5·√n (f32 accumulation against the reference's f64), f16/bf16 one step of
/// the format plus that.
/// </summary>
public unsafe class MetalRowKernelTests(ITestOutputHelper output)
{
    private static readonly int[] Lengths = [1, 7, 32, 100, 1000];

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void ReductionsSoftmaxAndNormsOfEveryRowLength(DType dt)
    {
        if (MetalHarness.Missing(output)) return;
        var n = Dim.Sym("n");
        var x = Input("x", dt, new Shape(3, n));
        var w = Input("w", dt, new Shape(n));
        var b = Input("b", dt, new Shape(n));
        var g = new Graph([x, w, b],
        [
            Softmax(x, 1), LogSoftmax(x, 1), Reduce(Op.Sum, x, [1]), Reduce(Op.Max, x, [1]), Reduce(Op.Mean, x, [1]), Reduce(Op.Min, x, [1]),
            Reduce(Op.Sum, x, [0]), RmsNorm(x, w, 1e-6), RmsNorm(x, null, 1e-5), LayerNorm(x, w, b, 1e-5), LayerNorm(x, null, null, 1e-5),
        ]);
        var rng = new Random(29);
        foreach (int len in Lengths)
        {
            var (atol, rtol) = dt switch
            {
                DType.F16 => (4e-3 * Math.Sqrt(len), 4e-3),
                DType.BF16 => (3e-2 * Math.Sqrt(len), 3e-2),
                _ => (1e-5 * Math.Sqrt(len), 1e-5),
            };
            MetalHarness.Check(g, [CpuHarness.Random(rng, dt, [3, len]), CpuHarness.Random(rng, dt, [len]), CpuHarness.Random(rng, dt, [len])], atol, rtol);
        }
    }

    [Fact]
    public void ProductOfRows()
    {
        if (MetalHarness.Missing(output)) return;
        var x = Input("x", DType.F32, Shape.Of(5, 70));
        MetalHarness.Check(new Graph([x], [Reduce(Op.Prod, x, [1])]), [CpuHarness.Random(new Random(3), DType.F32, [5, 70], 0.9, 1.1)], 1e-5, 1e-5);
    }

    [Fact]
    public void TheCRendererSharesTheRowKernels()
    {
        string c = new CRenderer().RowKernel("k", new RowKernelSpec(Op.LayerNorm, DType.F32, DType.F32, true, true, 1e-5));
        Assert.Contains("for (int64_t row = start; row < end; row++)", c, StringComparison.Ordinal);
        Assert.DoesNotContain("simd_sum", c, StringComparison.Ordinal);
        string msl = new MetalRenderer().RowKernel("k", new RowKernelSpec(Op.LayerNorm, DType.F32, DType.F32, true, true, 1e-5));
        Assert.Contains("simd_sum(s)", msl, StringComparison.Ordinal);
        Assert.Contains("threadgroup float cd_red[32];", msl, StringComparison.Ordinal);
        Assert.Equal(4, msl.Split("threadgroup_barrier(mem_flags::mem_threadgroup);").Length - 1);
    }

    [Fact]
    public void AMissingOrMisplacedBarrierGivesAWrongSumAndADivergentOneIsReported()
    {
        if (MetalHarness.Missing(output)) return;
        const string Barrier = "        threadgroup_barrier(mem_flags::mem_threadgroup);\n";
        const string Read = "        acc = lane < nsg ? cd_red[lane] : 0.0f;\n";
        var renderer = new MetalRenderer();
        string kernel = renderer.RowKernel("row_sum", new RowKernelSpec(Op.Sum, DType.F32, DType.F32));
        Assert.Contains(Barrier + Read, kernel, StringComparison.Ordinal);
        string missing = kernel.Replace(Barrier + Read, Read, StringComparison.Ordinal).Replace("row_sum", "row_sum_missing", StringComparison.Ordinal);
        string moved = kernel.Replace(Barrier + Read, Read + Barrier, StringComparison.Ordinal).Replace("row_sum", "row_sum_moved", StringComparison.Ordinal);
        string divergent = kernel.Replace("        if (lane == 0) cd_red[sg] = acc;\n" + Barrier, "        if (lane == 0) { cd_red[sg] = acc;\n" + Barrier + "        }\n", StringComparison.Ordinal)
            .Replace("row_sum", "row_sum_divergent", StringComparison.Ordinal);
        var lib = MslShim.Load("#include <metal_stdlib>\nusing namespace metal;\n\n" + renderer.Prelude() + kernel + missing + moved + divergent);

        const int Rows = 4, N = 1000;
        var x = new float[Rows * N];
        var rng = new Random(1);
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() + 0.5);
        double[] expected = [.. Enumerable.Range(0, Rows).Select(r => x.Skip(r * N).Take(N).Sum(v => (double)v))];

        float[] Run(string name)
        {
            var y = new float[Rows];
            long[] args = [0, -1, -1, 3, Rows, N];
            fixed (float* px = x, py = y)
            fixed (long* pa = args)
            {
                lib.Dispatch(name, [(nint)px, (nint)pa, (nint)pa, (nint)py, (nint)pa], (Rows, 1, 1), (256, 1, 1));
            }

            return y;
        }

        var good = Run("row_sum");
        for (int r = 0; r < Rows; r++) Assert.Equal(expected[r], good[r], 1e-3);
        foreach (string broken in new[] { "row_sum_missing", "row_sum_moved" })
        {
            var y = Run(broken);
            Assert.True(Enumerable.Range(0, Rows).Any(r => Math.Abs(y[r] - expected[r]) > 1), $"{broken} gave the right sums: {string.Join(", ", y)}");
        }

        var ex = Assert.Throws<InvalidOperationException>(() => Run("row_sum_divergent"));
        Assert.Contains("row_sum_divergent", ex.Message, StringComparison.Ordinal);
        output.WriteLine(ex.Message);
    }

    [Fact]
    public void LanesOfASimdgroupHoldingDifferentMatricesAreReported()
    {
        if (MetalHarness.Missing(output)) return;
        // Each lane loads an 8x8 tile at an offset of its own: on a GPU the simdgroup matrix would be garbage.
        const string Source = """
            #include <metal_stdlib>
            using namespace metal;

            kernel void mma_uniform(device const float* a [[buffer(0)]], device float* c [[buffer(1)]], uint lane [[thread_index_in_simdgroup]])
            {
                simdgroup_float8x8 m, r;
                simdgroup_load(m, a, 8);
                simdgroup_multiply(r, m, m);
                simdgroup_store(r, c, 8);
            }

            kernel void mma_per_lane(device const float* a [[buffer(0)]], device float* c [[buffer(1)]], uint lane [[thread_index_in_simdgroup]])
            {
                simdgroup_float8x8 m, r;
                simdgroup_load(m, a + lane, 8);
                simdgroup_multiply(r, m, m);
                simdgroup_store(r, c, 8);
            }

            """;
        var lib = MslShim.Load(Source);
        var a = new float[64 + 32];
        for (int k = 0; k < a.Length; k++) a[k] = (k % 7) - 3;
        var c = new float[64];
        fixed (float* pa = a, pc = c)
        {
            lib.Dispatch("mma_uniform", [(nint)pa, (nint)pc], (1, 1, 1), (32, 1, 1));
            for (int r = 0; r < 8; r++)
            {
                for (int col = 0; col < 8; col++)
                {
                    double e = 0;
                    for (int k = 0; k < 8; k++) e += a[(r * 8) + k] * a[(k * 8) + col];
                    Assert.Equal(e, c[(r * 8) + col]);
                }
            }

            nint[] buffers = [(nint)pa, (nint)pc];
            var ex = Assert.Throws<InvalidOperationException>(() => lib.Dispatch("mma_per_lane", buffers, (1, 1, 1), (32, 1, 1)));
            Assert.Contains("different operands", ex.Message, StringComparison.Ordinal);
        }
    }
}
