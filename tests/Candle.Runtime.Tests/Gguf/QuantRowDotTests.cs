using System.Buffers.Binary;
using Candle.Runtime.Kernels.Quant;

namespace Candle.Runtime.Tests.Gguf;

/// <summary>
/// The integer dot products of the quantized matmul against float32 dot products on the dequantized values: exact
/// (up to float rounding) against the dequantized activations, and within the activation-rounding bound against the
/// activations themselves.
/// </summary>
public sealed unsafe class QuantRowDotTests
{
    public static TheoryData<GgmlType> Types =>
        [
            GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q5_0, GgmlType.IQ4_NL, GgmlType.Q4_1, GgmlType.Q5_1,
            GgmlType.Q5_K, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.IQ4_XS,
        ];

    /// <summary>Random blocks of <paramref name="type"/>: quantized random values, or random bytes with finite f16 scales.</summary>
    internal static byte[] RandomBlocks(Random rng, GgmlType type, int values)
    {
        var bytes = new byte[GgmlTypeTraits.ByteCount(type, values)];
        if (GgmlTypeTraits.CanQuantize(type))
        {
            var x = new float[values];
            for (int i = 0; i < values; i++) x[i] = (float)((rng.NextDouble() * 4) - 2);
            GgmlTypeTraits.Quantize(type, x, bytes);
            return bytes;
        }

        rng.NextBytes(bytes);
        int[] scales = type switch
        {
            GgmlType.Q4_K or GgmlType.Q5_K => [0, 2],
            GgmlType.Q2_K => [80, 82],
            GgmlType.Q3_K => [108],
            GgmlType.Q6_K => [208],
            _ => throw new ArgumentException($"no random blocks for {type}"),
        };
        int blockBytes = GgmlTypeTraits.BlockBytes(type);
        for (int b = 0; b < bytes.Length; b += blockBytes)
        {
            foreach (int o in scales) BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(b + o, 2), (Half)(0.002 + (0.02 * rng.NextDouble())));
        }

        return bytes;
    }

    /// <summary>
    /// The integer dot, the double dot of the dequantized weights with the dequantized and with the unrounded activations,
    /// the activation-rounding bound, and (Q8_1 activations) what the f16 rounding of each block's s = d·Σq can add:
    /// Σ |m_w|·(|s|·2^-11 + |Σq|·|d − f16(d)|) over the blocks.
    /// </summary>
    private static (float Quantized, double WithDequantizedActivations, double Exact, double Bound, double SumRounding) Dot(GgmlType type, byte[] w, float[] x)
    {
        var format = QuantActivations.VecDotType(type);
        var xq = new byte[QuantActivations.RowBytes(format, x.Length)];
        var xd = new float[x.Length];
        double sumRounding = 0;
        if (format == GgmlType.Q8_0)
        {
            QuantActivations.QuantizeQ8_0(x, xq);
            BlockQ8_0.Dequantize(xq, xd);
        }
        else if (format == GgmlType.Q8_1)
        {
            QuantActivations.QuantizeQ8_1(x, xq);
            BlockQ8_1.Dequantize(xq, xd);
            int wBytes = GgmlTypeTraits.BlockBytes(type);
            for (int b = 0; b < x.Length / 32; b++)
            {
                // s is d·Σq with the unrounded d, the dequantized activations use the f16 d: both differences count.
                double m = (double)BitConverter.ToHalf(w, (b * wBytes) + 2);
                double sum = (double)BitConverter.ToHalf(xq, (b * 36) + 2);
                float amax = 0;
                int qsum = 0;
                for (int i = 0; i < 32; i++)
                {
                    amax = Math.Max(amax, Math.Abs(x[(32 * b) + i]));
                    qsum += (sbyte)xq[(b * 36) + 4 + i];
                }

                double dRounding = Math.Abs((amax / 127f) - (double)BitConverter.ToHalf(xq, b * 36));
                sumRounding += Math.Abs(m) * ((Math.Abs(sum) / 2048) + (Math.Abs(qsum) * dRounding));
            }
        }
        else
        {
            QuantActivations.QuantizeQ8_K(x, xq);
            BlockQ8_K.Dequantize(xq, xd);
        }

        var wd = new float[x.Length];
        GgmlTypeTraits.Dequantize(type, w, wd);
        float q;
        fixed (byte* wp = w)
        fixed (byte* ap = xq)
        {
            q = QuantRowDot.Dot(type, wp, ap, x.Length / GgmlTypeTraits.BlockSize(type));
        }

        int block = format == GgmlType.Q8_K ? 256 : 32;
        double withDeq = 0, exact = 0, bound = 0;
        for (int b = 0; b < x.Length; b += block)
        {
            double amax = 0;
            for (int i = b; i < b + block; i++) amax = Math.Max(amax, Math.Abs(x[i]));

            // Half a step of the 8-bit grid (max|x|/127), plus the f16 rounding of a Q8_0 scale (2^-11 relative, times 127 steps).
            double step = block == 32 ? (amax / 254 * 1.001) + (amax / 2048) : amax / 254 * 1.001;
            for (int i = b; i < b + block; i++)
            {
                withDeq += (double)wd[i] * xd[i];
                exact += (double)wd[i] * x[i];
                bound += Math.Abs(wd[i]) * step;
            }
        }

        return (q, withDeq, exact, bound, sumRounding);
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void The_integer_dot_equals_the_dot_of_the_dequantized_values(GgmlType type)
    {
        var rng = new Random((int)type);
        int blockSize = Math.Max(GgmlTypeTraits.BlockSize(type), 32);
        for (int iter = 0; iter < 200; iter++)
        {
            int n = blockSize == 256 ? 256 * rng.Next(1, 5) : 32 * rng.Next(1, 20);
            var x = new float[n];
            double scale = Math.Pow(10, rng.Next(-3, 3));
            for (int i = 0; i < n; i++) x[i] = (float)(((rng.NextDouble() * 2) - 1) * scale);
            var w = RandomBlocks(rng, type, n);
            var (q, withDeq, _, _, sumRounding) = Dot(type, w, x);
            double magnitude = 0;
            var wd = new float[n];
            GgmlTypeTraits.Dequantize(type, w, wd);
            for (int i = 0; i < n; i++) magnitude += Math.Abs(wd[i] * x[i]);
            Assert.True(Math.Abs(q - withDeq) <= (2e-6 * magnitude) + (1.0001 * sumRounding) + 1e-30, $"{type} n={n}: integer dot {q} vs {withDeq} on the dequantized values");
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void The_integer_dot_is_within_the_activation_rounding_bound_of_the_float_dot(GgmlType type)
    {
        var rng = new Random(100 + (int)type);
        for (int iter = 0; iter < 200; iter++)
        {
            int n = GgmlTypeTraits.BlockSize(type) == 256 ? 256 * rng.Next(1, 5) : 32 * rng.Next(1, 20);
            var x = new float[n];
            for (int i = 0; i < n; i++) x[i] = (float)((rng.NextDouble() * 6) - 3);
            var w = RandomBlocks(rng, type, n);
            var (q, _, exact, bound, sumRounding) = Dot(type, w, x);
            Assert.True(Math.Abs(q - exact) <= ((bound + sumRounding) * 1.0001) + (1e-6 * Math.Abs(exact)) + 1e-6, $"{type} n={n}: {q} vs exact {exact}, bound {bound}");
        }
    }

    [Fact]
    public void Q8_K_activations_follow_llama_cpps_reference_rounding()
    {
        // quantize_row_q8_K_ref: the largest-magnitude value maps to -127 exactly; d = 1/(-127/max); bsums are the 16-value sums.
        var x = new float[256];
        var rng = new Random(7);
        for (int i = 0; i < x.Length; i++) x[i] = (float)((rng.NextDouble() * 2) - 1);
        x[17] = 2.5f;
        var q = new byte[292];
        QuantActivations.QuantizeQ8_K(x, q);
        float d = BinaryPrimitives.ReadSingleLittleEndian(q);
        Assert.Equal(1 / (-127f / 2.5f), d);
        Assert.Equal(-127, (sbyte)q[4 + 17]);
        for (int g = 0; g < 16; g++)
        {
            int sum = 0;
            for (int i = 0; i < 16; i++) sum += (sbyte)q[4 + (16 * g) + i];
            Assert.Equal(sum, BinaryPrimitives.ReadInt16LittleEndian(q.AsSpan(260 + (2 * g))));
        }

        for (int i = 0; i < 256; i++)
        {
            Assert.Equal((int)MathF.Round(x[i] * (-127f / 2.5f), MidpointRounding.ToEven), (sbyte)q[4 + i]);
        }
    }

    [Fact]
    public void Q8_1_activations_follow_llama_cpps_rounding()
    {
        // quantize_row_q8_1: d = max|x|/127, q = round(x·127/max|x|) (ties to even), s = d·Σq; both stored as f16.
        var rng = new Random(11);
        var x = new float[64];
        for (int i = 0; i < x.Length; i++) x[i] = (float)((rng.NextDouble() * 4) - 2);
        x[40] = -3.5f;
        var q = new byte[72];
        QuantActivations.QuantizeQ8_1(x, q);
        for (int b = 0; b < 2; b++)
        {
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = Math.Max(amax, Math.Abs(x[(32 * b) + i]));
            float d = amax / 127f;
            Assert.Equal((Half)d, BitConverter.ToHalf(q, 36 * b));
            int sum = 0;
            for (int i = 0; i < 32; i++)
            {
                int expected = (int)MathF.Round(x[(32 * b) + i] * (127f / amax), MidpointRounding.ToEven);
                Assert.Equal(expected, (sbyte)q[(36 * b) + 4 + i]);
                sum += expected;
            }

            Assert.Equal((Half)(sum * d), BitConverter.ToHalf(q, (36 * b) + 2));
        }

        Assert.Equal(-127, (sbyte)q[36 + 4 + 8]);
    }

    [Fact]
    public void A_quantized_tensor_with_the_wrong_byte_count_names_the_tensor()
    {
        var e = Assert.Throws<ArgumentException>(() => new QuantizedTensor(GgmlType.Q4_0, 2, 64, new byte[71], "blk.0.ffn_up.weight"));
        Assert.Contains("blk.0.ffn_up.weight", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => new QuantizedTensor(GgmlType.Q4_K, 2, 64, new byte[288], "blk.0.attn_q.weight"));
        Assert.Contains("blk.0.attn_q.weight", e.Message, StringComparison.Ordinal);
        Assert.Contains("256-value", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => new QuantizedTensor(GgmlType.IQ2_XXS, 1, 256, new byte[66], "t"));
        Assert.Contains("no quantized kernels", e.Message, StringComparison.Ordinal);
    }
}
