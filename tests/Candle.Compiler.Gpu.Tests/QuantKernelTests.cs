using System.Buffers.Binary;
using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// Products and lookups of Q8_0, Q4_0 and Q4_K weights on their stored blocks, on ILGPU's CPU accelerator against the
/// reference interpreter (which multiplies the exact dequantization in double): random blocks with ordinary, huge,
/// tiny (subnormal) and negative scales, odd weight-row counts, rows that are not a multiple of a group's units, the
/// GEMV (up to 8 activation rows) and the dequantize-then-GEMM path (more rows), and the lookup with its range check;
/// the products also on CUDA where a device opens.
/// </summary>
public sealed class QuantKernelTests
{
    /// <summary>Block scales every test mixes in (f16 bits): ordinary, the largest f16, a subnormal, negative, zero.</summary>
    private static readonly Half[] Scales = [(Half)0.01, (Half)65504, BitConverter.UInt16BitsToHalf(1), (Half)(-0.03), (Half)0];

    /// <summary>Random blocks of <paramref name="type"/> whose f16 scales (and Q4_K minimums) are drawn from <see cref="Scales"/> or at random.</summary>
    internal static QuantizedTensor RandomBlocks(Random rng, GgmlType type, int rows, int cols, string name)
    {
        var bytes = new byte[GgmlTypeTraits.ByteCount(type, (long)rows * cols)];
        rng.NextBytes(bytes);
        int blockBytes = GgmlTypeTraits.BlockBytes(type);
        int[] scaleOffsets = type == GgmlType.Q4_K ? [0, 2] : [0];
        for (int b = 0; b < bytes.Length; b += blockBytes)
        {
            foreach (int o in scaleOffsets)
            {
                var s = rng.Next(3) == 0 ? Scales[rng.Next(Scales.Length)] : (Half)((rng.NextDouble() - 0.5) * 0.05);
                BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(b + o, 2), s);
            }
        }

        return new QuantizedTensor(type, rows, cols, bytes, name);
    }

    public static TheoryData<GgmlType, int, int, int> Products()
    {
        var data = new TheoryData<GgmlType, int, int, int>();
        foreach (var (type, k) in new[] { (GgmlType.Q8_0, 736), (GgmlType.Q4_0, 736), (GgmlType.Q4_K, 768), (GgmlType.Q4_0, 96), (GgmlType.Q4_K, 256) })
        {
            // 1..8 rows: the GEMV (one or two groups of up to 4 rows); 11: dequantized into the workspace, then the GEMM.
            foreach (int rows in new[] { 1, 3, 6, 11 }) data.Add(type, rows, 7, k);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Products))]
    public void QuantizedProductMatchesTheReferenceInterpreter(GgmlType type, int rows, int n, int k) =>
        CheckProduct(GpuBackends.IlgpuCpu, type, rows, n, k);

    [CudaTheory]
    [MemberData(nameof(Products))]
    public void QuantizedProductOnCudaMatchesTheReferenceInterpreter(GgmlType type, int rows, int n, int k) =>
        CheckProduct(GpuBackends.Cuda, type, rows, n, k);

    private static void CheckProduct(GpuBackend backend, GgmlType type, int rows, int n, int k)
    {
        var rng = new Random((int)type * 100 + rows);
        var q = RandomBlocks(rng, type, n, k, "w");
        var x = Input("x", DType.F32, Shape.Of(rows, k));
        var graph = new Graph([x], [QuantMatMul(x, QuantConstant(q))]);
        var xs = new float[rows * k];
        for (int i = 0; i < xs.Length; i++) xs[i] = (float)((rng.NextDouble() * 2) - 1);
        var input = HostTensor.FromArray(xs, rows, k);

        using var gpu = backend.Compile(graph, CompileOptions.Default);
        using var reference = ReferenceBackend.Instance.Compile(graph, CompileOptions.Default);
        var expected = reference.Run([input])[0].AsSpan<float>().ToArray();
        var actual = gpu.Run([input])[0].AsSpan<float>().ToArray();

        // The bound of float32 accumulation: relative to Σ |x · w| of each output (w from the runtime's dequantization).
        var w = q.Dequantize().AsSpan<float>().ToArray();
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < n; c++)
            {
                double mag = 0;
                for (int j = 0; j < k; j++) mag += Math.Abs((double)xs[(r * k) + j] * w[(c * k) + j]);
                int i = (r * n) + c;
                Assert.True(Math.Abs(expected[i] - actual[i]) <= (3e-5 * mag) + 1e-30, $"{type} [{r}, {c}]: {actual[i]}, expected {expected[i]} (Σ|x·w| {mag})");
            }
        }
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    public void QuantizedLookupMatchesTheDequantizedRows(GgmlType type)
    {
        var rng = new Random(3 + (int)type);
        const int Rows = 5;
        int cols = type == GgmlType.Q4_K ? 512 : 96;
        var q = RandomBlocks(rng, type, Rows, cols, "table");
        var ids = Input("ids", DType.I64, Shape.Of(2, 3));
        var graph = new Graph([ids], [QuantEmbedding(QuantConstant(q), ids)]);
        using var gpu = GpuBackends.IlgpuCpu.Compile(graph, CompileOptions.Default);
        long[] at = [4, 0, 4, 2, 1, 3];
        var actual = gpu.Run([HostTensor.FromArray(at, 2, 3)])[0];
        Assert.Equal([2, 3, cols], actual.ShapeArray());
        var table = q.Dequantize().AsSpan<float>().ToArray();
        var values = actual.AsSpan<float>().ToArray();
        for (int p = 0; p < at.Length; p++)
        {
            for (int j = 0; j < cols; j++) Assert.Equal(table[(at[p] * cols) + j], values[(p * cols) + j]);
        }

        var e = Assert.Throws<ArgumentException>(() => gpu.Run([HostTensor.FromArray(new long[] { 0, 1, 5, 2, 1, 3 }, 2, 3)]));
        Assert.Contains("quant_embedding table", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BlockTypesWithoutGpuKernelsAreDecomposedAndTheOthersKept()
    {
        var rng = new Random(1);
        var x = Input("x", DType.F32, Shape.Of(2, 256));
        var q40 = QuantConstant(RandomBlocks(rng, GgmlType.Q4_0, 3, 256, "q4_0"));
        var q6k = QuantConstant(QuantizedOf(rng, GgmlType.Q6_K, 3, 256, "q6_k"));
        var graph = new Graph([x], [QuantMatMul(x, q40), QuantMatMul(x, q6k)]);
        var optimized = CandleCompiler.Optimize(graph, new CompileOptions { Backend = GpuBackends.IlgpuCpu });
        var kept = optimized.Nodes.Where(n => n.Op == Op.QuantMatMul).Select(n => n.Inputs[1].Attr<QuantConstantAttrs>().Data.Type).ToList();
        Assert.Equal([GgmlType.Q4_0], kept);
        Assert.Contains(optimized.Nodes, n => n.Op == Op.MatMul);
        Assert.False(GpuBackends.IlgpuCpu.Capabilities.Fuses(FusedKinds.QuantMatMulEpilogue));

        // Both still match the reference.
        var xs = HostTensor.FromArray([.. Enumerable.Range(0, 512).Select(i => (float)Math.Sin(i))], 2, 256);
        using var gpu = GpuBackends.IlgpuCpu.Compile(graph, CompileOptions.Default);
        using var reference = ReferenceBackend.Instance.Compile(graph, CompileOptions.Default);
        var (e, a) = (reference.Run([xs]), gpu.Run([xs]));
        for (int o = 0; o < 2; o++)
        {
            var (ev, av) = (e[o].AsSpan<float>().ToArray(), a[o].AsSpan<float>().ToArray());
            for (int i = 0; i < ev.Length; i++) Assert.True(Math.Abs(ev[i] - av[i]) <= 1e-4 * (1 + Math.Abs(ev[i])), $"output {o}[{i}]: {av[i]}, expected {ev[i]}");
        }
    }

    private static QuantizedTensor QuantizedOf(Random rng, GgmlType type, int rows, int cols, string name)
    {
        var v = new float[rows * cols];
        for (int i = 0; i < v.Length; i++) v[i] = (float)((rng.NextDouble() * 2) - 1);
        var bytes = new byte[GgmlTypeTraits.ByteCount(type, v.Length)];
        GgmlTypeTraits.Quantize(type, v, bytes);
        return new QuantizedTensor(type, rows, cols, bytes, name);
    }
}
