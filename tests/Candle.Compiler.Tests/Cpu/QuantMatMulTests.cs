using System.Buffers.Binary;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// Quantized matmul and embedding lookup through compiled CPU plans against the reference interpreter, which evaluates
/// them on the exact dequantization: the integer kernels (Q8_0 and Q4_0 always, Q4_K and Q6_K below 32 rows and on the
/// packed panels from 4 rows; the other block types below 32 rows)
/// within the bound of rounding the activations to 8 bits, the row-dequantizing kernel to float32 rounding.
/// </summary>
public sealed class QuantMatMulTests
{
    public static TheoryData<GgmlType> Types =>
    [
        GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K,
        GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q5_K, GgmlType.F16,
    ];

    internal static QuantizedTensor RandomTensor(Random rng, GgmlType type, int rows, int cols, string name)
    {
        int values = rows * cols;
        var bytes = new byte[GgmlTypeTraits.ByteCount(type, values)];
        if (GgmlTypeTraits.CanQuantize(type))
        {
            var x = new float[values];
            for (int i = 0; i < values; i++) x[i] = (float)((rng.NextDouble() * 2) - 1);
            GgmlTypeTraits.Quantize(type, x, bytes);
        }
        else
        {
            rng.NextBytes(bytes);
            int[] scales = type switch
            {
                GgmlType.Q4_K or GgmlType.Q5_K => [0, 2],
                GgmlType.Q2_K => [80, 82],
                GgmlType.Q3_K => [108],
                _ => [208],
            };
            int blockBytes = GgmlTypeTraits.BlockBytes(type);
            for (int b = 0; b < bytes.Length; b += blockBytes)
            {
                foreach (int o in scales) BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(b + o, 2), (Half)(0.002 + (0.02 * rng.NextDouble())));
            }
        }

        return new QuantizedTensor(type, rows, cols, bytes, name);
    }

    public static TheoryData<GgmlType, int> TypesAndRows()
    {
        var data = new TheoryData<GgmlType, int>();
        foreach (var type in Types)
        {
            data.Add(type, 3);

            // From 32 rows on (prefill) the kernel multiplies dequantized tiles with the SGEMM, except for the integer
            // kernels of Q8_0 and Q4_0, which take every row count (the GEMV below 4 rows, packed panels of 8 weight rows
            // × tiles of up to 4 activation rows from there; N = 42 leaves a panel of 2 rows).
            data.Add(type, 40);
            if (type is GgmlType.Q8_0 or GgmlType.Q4_0)
            {
                foreach (int rows in new[] { 1, 2, 4, 5, 7, 17 }) data.Add(type, rows);
            }

            // Q4_K and Q6_K run on the packed panels from 4 rows on (on AVX2).
            if (type is GgmlType.Q4_K or GgmlType.Q6_K) data.Add(type, 6);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(TypesAndRows))]
    public void Quantized_matmul_matches_the_interpreter_within_the_activation_rounding_bound(GgmlType type, int rows)
    {
        var rng = new Random((int)type * 31);
        // N is not a multiple of the 4-row tile; K is 17 blocks of 32 (2 super-blocks of 256 for the K types).
        const int N = 42;
        int K = GgmlTypeTraits.BlockSize(type) == 256 ? 512 : 544;
        var q = RandomTensor(rng, type, N, K, $"w_{type}");
        var x = Input("x", DType.F32, Shape.Of(1, rows, K));
        var g = new Graph([x], [QuantMatMul(x, QuantConstant(q))]);
        var data = CpuHarness.Random(rng, DType.F32, [1, rows, K], -2, 2);
        var expected = ReferenceInterpreter.Run(g, [data])[0].AsSpan<float>().ToArray();
        var w = q.Dequantize().AsSpan<float>().ToArray();
        var xs = data.AsSpan<float>().ToArray();

        // The activation rounding bound: Σ |w|·(half an 8-bit step of the activation block + the f16 rounding of its scale).
        int block = GgmlTypeTraits.BlockSize(type) == 256 ? 256 : 32;
        bool integer = type is GgmlType.Q8_0 or GgmlType.Q4_0
            || (rows >= 4 && QuantPanelGemm.Supports(type))
            || (rows < 32 && type is GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K
                or GgmlType.Q5_0 or GgmlType.Q4_1 or GgmlType.Q5_1);
        var step = new double[xs.Length];
        for (int b = 0; b < xs.Length; b += block)
        {
            double amax = 0;
            for (int i = b; i < b + block; i++) amax = Math.Max(amax, Math.Abs(xs[i]));
            for (int i = b; i < b + block; i++) step[i] = integer ? (amax / 254 * 1.001) + (block == 32 ? amax / 2048 : 0) : 0;
        }

        foreach (int threads in new[] { 1, 2 })
        {
            var plan = CpuHarness.Compile(g, threads: threads, optLevel: 2);
            Assert.Contains("rt:quant_matmul", plan.Describe(), StringComparison.Ordinal);
            var actual = plan.Run([data])[0].AsSpan<float>().ToArray();
            for (int m = 0; m < rows; m++)
            {
                for (int n = 0; n < N; n++)
                {
                    double bound = 0, magnitude = 0;
                    for (int k = 0; k < K; k++)
                    {
                        bound += Math.Abs(w[(n * K) + k]) * step[(m * K) + k];
                        magnitude += Math.Abs(w[(n * K) + k] * xs[(m * K) + k]);
                    }

                    double err = Math.Abs(actual[(m * N) + n] - expected[(m * N) + n]);
                    Assert.True(err <= bound + (1e-5 * magnitude) + 1e-6, $"{type} threads={threads} y[{m}, {n}]: {actual[(m * N) + n]} vs {expected[(m * N) + n]} (bound {bound})");
                }
            }
        }
    }

    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q6_K)]
    public void Quantized_embedding_returns_the_dequantized_rows(GgmlType type)
    {
        var rng = new Random(5);
        var q = RandomTensor(rng, type, 20, 256, "embed");
        var ids = Input("ids", DType.I64, Shape.Of(2, 3));
        var g = new Graph([ids], [QuantEmbedding(QuantConstant(q), ids)]);
        var data = HostTensor.FromArray(new long[] { 0, 19, 7, 7, 3, 12 }, 2, 3);
        CpuHarness.CheckAgainstReference(g, [data], 0, 0);
        var rows = q.Dequantize().AsSpan<float>();
        var actual = CpuHarness.Compile(g).Run([data])[0];
        Assert.Equal([2, 3, 256], actual.ShapeArray());
        Assert.Equal(rows.Slice(19 * 256, 256).ToArray(), actual.AsSpan<float>().Slice(256, 256).ToArray());
    }

    [Fact]
    public void A_saved_plan_with_quantized_weights_loads_and_gives_the_same_outputs()
    {
        var rng = new Random(9);
        var q = RandomTensor(rng, GgmlType.Q4_K, 16, 256, "w");
        var e = RandomTensor(rng, GgmlType.Q8_0, 10, 256, "embed");
        var ids = Input("ids", DType.I64, Shape.Of(3));
        var plan = CpuHarness.Compile(new Graph([ids], [QuantMatMul(QuantEmbedding(QuantConstant(e), ids), QuantConstant(q))]));
        var data = HostTensor.FromArray(new long[] { 4, 0, 9 }, 3);
        string path = Path.Combine(Path.GetTempPath(), $"candle-quant-{Guid.NewGuid():N}.plan");
        try
        {
            plan.Save(path);
            using var loaded = Candle.Runtime.Plans.Plan.Load(path);
            Assert.Equal(plan.Run([data])[0].AsSpan<float>().ToArray(), loaded.Run([data])[0].AsSpan<float>().ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void An_out_of_range_id_names_the_kernel()
    {
        var q = RandomTensor(new Random(1), GgmlType.Q8_0, 4, 32, "embed");
        var ids = Input("ids", DType.I64, Shape.Of(2));
        var plan = CpuHarness.Compile(new Graph([ids], [QuantEmbedding(QuantConstant(q), ids)]));
        var e = Assert.ThrowsAny<Exception>(() => plan.Run([HostTensor.FromArray(new long[] { 1, 4 }, 2)]));
        Assert.Contains("out of range", e.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_quantized_constant_read_by_another_op_is_dequantized_for_it()
    {
        var rng = new Random(2);
        var q = RandomTensor(rng, GgmlType.Q4_0, 8, 64, "w");
        var x = Input("x", DType.F32, Shape.Of(2, 8));
        var w = QuantConstant(q);
        var g = new Graph([x], [MatMul(x, w), QuantMatMul(MatMul(x, w), w)]);
        CpuHarness.CheckAgainstReference(g, [CpuHarness.Random(rng, DType.F32, [2, 8])], 0.05, 0.02);
    }

    [Fact]
    public void Mismatched_shapes_and_weights_name_the_tensor()
    {
        var q = RandomTensor(new Random(3), GgmlType.Q8_0, 4, 64, "blk.3.ffn_up.weight");
        var e = Assert.Throws<IrException>(() => QuantMatMul(Input("x", DType.F32, Shape.Of(2, 32)), QuantConstant(q)));
        Assert.Contains("blk.3.ffn_up.weight", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<IrException>(() => QuantMatMul(Input("x", DType.F16, Shape.Of(2, 64)), QuantConstant(q)));
        Assert.Contains("blk.3.ffn_up.weight", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<IrException>(() => QuantMatMul(Input("x", DType.F32, Shape.Of(2, 64)), Constant(HostTensor.Zeros(DType.F32, 4, 64))));
        Assert.Contains("quantized constant", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<IrException>(() => QuantEmbedding(QuantConstant(q), Input("ids", DType.F32, Shape.Of(2))));
        Assert.Contains("quant_embedding", e.Message, StringComparison.Ordinal);
    }
}
