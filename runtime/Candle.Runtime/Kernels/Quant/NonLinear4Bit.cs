using System.Buffers.Binary;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// The 4-bit non-linear code shared by IQ4_NL and IQ4_XS: ggml's <c>kvalues_iq4nl</c> table and its quantizer
/// (<c>quantize_row_iq4_nl_impl</c> with 7 scale trials and x² weights, as <c>llama-quantize</c> runs it without an
/// importance matrix).
/// </summary>
internal static class NonLinear4Bit
{
    private static ReadOnlySpan<sbyte> Table => [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

    /// <summary>The sixteen values a nibble stands for, in ascending order.</summary>
    public static ReadOnlySpan<sbyte> Values => Table;

    private const int Trials = 7;
    private const float GroupMaxEps = 1e-15f;

    /// <summary>The index of the table value nearest to <paramref name="x"/> (ggml's <c>best_index_int8</c>; ties go up).</summary>
    internal static int BestIndex(float x)
    {
        var val = Table;
        if (x <= val[0]) return 0;
        if (x >= val[15]) return 15;
        int ml = 0;
        int mu = 15;
        while (mu - ml > 1)
        {
            int mav = (ml + mu) / 2;
            if (x < val[mav]) mu = mav;
            else ml = mav;
        }

        return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
    }

    /// <summary>
    /// Quantizes one super-block: 32 values to an IQ4_NL block, or 256 values to an IQ4_XS block (one scale per 32).
    /// </summary>
    /// <param name="x">32 or 256 values.</param>
    /// <param name="block">The 18- or 136-byte block to write.</param>
    /// <param name="scales">Scratch of x.Length / 32 floats.</param>
    internal static void QuantizeSuperBlock(ReadOnlySpan<float> x, Span<byte> block, Span<float> scales)
    {
        int nb = x.Length / 32;
        bool xs = nb > 1;
        var q4 = block[(xs ? 8 : 2)..];
        Span<byte> l = stackalloc byte[x.Length];
        block.Clear();
        var values = Table;
        float maxScale = 0;
        float amaxScale = 0;
        for (int ib = 0; ib < nb; ib++)
        {
            var xb = x.Slice(32 * ib, 32);
            var lb = l.Slice(32 * ib, 32);
            float amax = 0;
            float max = 0;
            for (int j = 0; j < 32; j++)
            {
                float ax = MathF.Abs(xb[j]);
                if (ax > amax)
                {
                    amax = ax;
                    max = xb[j];
                }
            }

            if (amax < GroupMaxEps)
            {
                scales[ib] = 0;
                continue;
            }

            float d = -max / values[0];
            float id = 1 / d;
            float sumqx = 0;
            float sumq2 = 0;
            for (int j = 0; j < 32; j++)
            {
                int li = BestIndex(id * xb[j]);
                lb[j] = (byte)li;
                float q = values[li];
                float w = xb[j] * xb[j];
                sumqx += w * q * xb[j];
                sumq2 += w * q * q;
            }

            d = sumq2 > 0 ? sumqx / sumq2 : 0f;
            float best = d * sumqx;
            for (int itry = -Trials; itry <= Trials; itry++)
            {
                id = (itry + values[0]) / max;
                sumqx = 0;
                sumq2 = 0;
                for (int j = 0; j < 32; j++)
                {
                    float q = values[BestIndex(id * xb[j])];
                    float w = xb[j] * xb[j];
                    sumqx += w * q * xb[j];
                    sumq2 += w * q * q;
                }

                if (sumq2 > 0 && sumqx * sumqx > best * sumq2)
                {
                    d = sumqx / sumq2;
                    best = d * sumqx;
                }
            }

            scales[ib] = d;
            float absD = MathF.Abs(d);
            if (absD > amaxScale)
            {
                amaxScale = absD;
                maxScale = d;
            }
        }

        if (xs)
        {
            float d = -maxScale / 32;
            BlockSpans.WriteHalf(block, 0, d);
            float id = d != 0 ? 1 / d : 0f;
            int scalesH = 0;
            for (int ib = 0; ib < nb; ib++)
            {
                int li = QuantSearch.NearestInt(id * scales[ib]);
                li = Math.Max(-32, Math.Min(31, li));
                float dl = d * li;
                float idl = dl != 0 ? 1 / dl : 0f;
                var lb = l.Slice(32 * ib, 32);
                var xb = x.Slice(32 * ib, 32);
                for (int j = 0; j < 32; j++)
                {
                    lb[j] = (byte)BestIndex(idl * xb[j]);
                }

                li += 32;
                block[4 + ib / 2] |= (byte)((li & 0xF) << (4 * (ib % 2)));
                scalesH |= (li >> 4) << (2 * ib);
            }

            BinaryPrimitives.WriteUInt16LittleEndian(block.Slice(2, 2), (ushort)scalesH);
        }
        else
        {
            BlockSpans.WriteHalf(block, 0, scales[0]);
            float id = scales[0] != 0 ? 1 / scales[0] : 0;
            for (int j = 0; j < 32; j++)
            {
                l[j] = (byte)BestIndex(id * x[j]);
            }
        }

        for (int i = 0; i < nb; i++)
        {
            for (int j = 0; j < 16; j++)
            {
                q4[16 * i + j] = (byte)(l[32 * i + j] | (l[32 * i + 16 + j] << 4));
            }
        }
    }
}
