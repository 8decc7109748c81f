using System.Diagnostics.CodeAnalysis;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// llama.cpp's reference quantizers of the K super-block types (<c>quantize_row_q2_K_ref</c> … <c>quantize_row_q6_K_ref</c>,
/// what <c>llama-quantize</c> runs without an importance matrix), written in ggml's float operation order so the blocks
/// come out as ggml writes them. Each takes whole 256-value super-blocks.
/// </summary>
[SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Justification = "ggml's own type names")]
internal static class KQuantizers
{
    private const float GroupMaxEps = 1e-15f;

    private static float F16(Span<byte> block, int offset) => BlockSpans.Half(block, offset);

    /// <summary>Q2_K: per 16 values a 2-bit quant with 4-bit scale and minimum (MAD-fitted), an f16 d and dmin.</summary>
    public static void QuantizeQ2_K(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int n = BlockSpans.Count<BlockQ2_K>(dst.Length, src.Length);
        Span<byte> l = stackalloc byte[256];
        Span<byte> laux = stackalloc byte[16];
        Span<float> weights = stackalloc float[16];
        Span<float> mins = stackalloc float[16];
        Span<float> scales = stackalloc float[16];
        const float Q4Scale = 15f;
        for (int b = 0; b < n; b++)
        {
            var x = src.Slice(256 * b, 256);
            var y = dst.Slice(84 * b, 84);
            var sc = y[..16];
            var qs = y.Slice(16, 64);
            float maxScale = 0;
            float maxMin = 0;
            for (int j = 0; j < 16; j++)
            {
                var xj = x.Slice(16 * j, 16);
                for (int i = 0; i < 16; i++) weights[i] = MathF.Abs(xj[i]);
                scales[j] = QuantSearch.MakeQkx2(xj, weights, 3, l.Slice(16 * j, 16), laux, out mins[j], -0.5f, 0.1f, 15, true);
                if (scales[j] > maxScale) maxScale = scales[j];
                if (mins[j] > maxMin) maxMin = mins[j];
            }

            if (maxScale > 0)
            {
                float iscale = Q4Scale / maxScale;
                for (int j = 0; j < 16; j++) sc[j] = (byte)QuantSearch.NearestInt(iscale * scales[j]);
                BlockSpans.WriteHalf(y, 80, maxScale / Q4Scale);
            }
            else
            {
                sc.Clear();
                BlockSpans.WriteHalf(y, 80, 0f);
            }

            if (maxMin > 0)
            {
                float iscale = Q4Scale / maxMin;
                for (int j = 0; j < 16; j++) sc[j] |= (byte)(QuantSearch.NearestInt(iscale * mins[j]) << 4);
                BlockSpans.WriteHalf(y, 82, maxMin / Q4Scale);
            }
            else
            {
                BlockSpans.WriteHalf(y, 82, 0f);
            }

            for (int j = 0; j < 16; j++)
            {
                float d = F16(y, 80) * (sc[j] & 0xF);
                if (d == 0) continue;
                float dm = F16(y, 82) * (sc[j] >> 4);
                for (int ii = 0; ii < 16; ii++)
                {
                    l[16 * j + ii] = (byte)Math.Max(0, Math.Min(3, QuantSearch.NearestInt((x[16 * j + ii] + dm) / d)));
                }
            }

            PackTwoBits(l, qs);
        }
    }

    /// <summary>Q3_K: per 16 values a 3-bit signed quant (two low bits in qs, the third in hmask) and a 6-bit signed scale.</summary>
    public static void QuantizeQ3_K(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int n = BlockSpans.Count<BlockQ3_K>(dst.Length, src.Length);
        Span<sbyte> l = stackalloc sbyte[256];
        Span<float> scales = stackalloc float[16];
        for (int b = 0; b < n; b++)
        {
            var x = src.Slice(256 * b, 256);
            var y = dst.Slice(110 * b, 110);
            var hmask = y[..32];
            var qs = y.Slice(32, 64);
            var sc = y.Slice(96, 12);
            float maxScale = 0;
            float amax = 0;
            for (int j = 0; j < 16; j++)
            {
                scales[j] = QuantSearch.MakeQ3(x.Slice(16 * j, 16), 4, l.Slice(16 * j, 16));
                float scale = MathF.Abs(scales[j]);
                if (scale > amax)
                {
                    amax = scale;
                    maxScale = scales[j];
                }
            }

            sc.Clear();
            if (maxScale != 0)
            {
                float iscale = -32f / maxScale;
                for (int j = 0; j < 16; j++)
                {
                    sbyte q = unchecked((sbyte)QuantSearch.NearestInt(iscale * scales[j]));
                    int li = Math.Max(-32, Math.Min(31, (int)q)) + 32;
                    if (j < 8) sc[j] = (byte)(li & 0xF);
                    else sc[j - 8] |= (byte)((li & 0xF) << 4);
                    li >>= 4;
                    sc[j % 4 + 8] |= (byte)(li << (2 * (j / 4)));
                }

                BlockSpans.WriteHalf(y, 108, 1 / iscale);
            }
            else
            {
                BlockSpans.WriteHalf(y, 108, 0f);
            }

            for (int j = 0; j < 16; j++)
            {
                int s = j < 8 ? sc[j] & 0xF : sc[j - 8] >> 4;
                s = (s | (((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
                float d = F16(y, 108) * s;
                if (d == 0) continue;
                for (int ii = 0; ii < 16; ii++)
                {
                    int li = Math.Max(-4, Math.Min(3, QuantSearch.NearestInt(x[16 * j + ii] / d)));
                    l[16 * j + ii] = (sbyte)(li + 4);
                }
            }

            hmask.Clear();
            int m = 0;
            byte hm = 1;
            for (int j = 0; j < 256; j++)
            {
                if (l[j] > 3)
                {
                    hmask[m] |= hm;
                    l[j] -= 4;
                }

                if (++m == 32)
                {
                    m = 0;
                    hm <<= 1;
                }
            }

            PackTwoBits(System.Runtime.InteropServices.MemoryMarshal.AsBytes(l), qs);
        }
    }

    /// <summary>Q4_K: per 32 values a 4-bit quant with 6-bit scale and minimum, an f16 d and dmin.</summary>
    public static void QuantizeQ4_K(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int n = BlockSpans.Count<BlockQ4_K>(dst.Length, src.Length);
        Span<byte> l = stackalloc byte[256];
        for (int b = 0; b < n; b++)
        {
            var y = dst.Slice(144 * b, 144);
            ScaleMinBlock(src.Slice(256 * b, 256), y, l, 15, -1f, 20);
            var q = y[16..];
            for (int j = 0; j < 256; j += 64)
            {
                for (int i = 0; i < 32; i++) q[i] = (byte)(l[j + i] | (l[j + i + 32] << 4));
                q = q[32..];
            }
        }
    }

    /// <summary>Q5_K: per 32 values a 5-bit quant (four bits in qs, the fifth in qh) with 6-bit scale and minimum.</summary>
    public static void QuantizeQ5_K(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int n = BlockSpans.Count<BlockQ5_K>(dst.Length, src.Length);
        Span<byte> l = stackalloc byte[256];
        for (int b = 0; b < n; b++)
        {
            var y = dst.Slice(176 * b, 176);
            ScaleMinBlock(src.Slice(256 * b, 256), y, l, 31, -0.5f, 15);
            var qh = y.Slice(16, 32);
            var ql = y[48..];
            qh.Clear();
            byte m1 = 1;
            byte m2 = 2;
            for (int k = 0; k < 256; k += 64)
            {
                for (int j = 0; j < 32; j++)
                {
                    int l1 = l[k + j];
                    if (l1 > 15)
                    {
                        l1 -= 16;
                        qh[j] |= m1;
                    }

                    int l2 = l[k + j + 32];
                    if (l2 > 15)
                    {
                        l2 -= 16;
                        qh[j] |= m2;
                    }

                    ql[j] = (byte)(l1 | (l2 << 4));
                }

                m1 <<= 2;
                m2 <<= 2;
                ql = ql[32..];
            }
        }
    }

    /// <summary>Q6_K: per 16 values a 6-bit signed quant (four bits in ql, two in qh) and an 8-bit signed scale.</summary>
    public static void QuantizeQ6_K(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int n = BlockSpans.Count<BlockQ6_K>(dst.Length, src.Length);
        Span<sbyte> l = stackalloc sbyte[256];
        Span<float> scales = stackalloc float[16];
        for (int b = 0; b < n; b++)
        {
            var x = src.Slice(256 * b, 256);
            var y = dst.Slice(210 * b, 210);
            float maxScale = 0;
            float maxAbsScale = 0;
            for (int ib = 0; ib < 16; ib++)
            {
                float scale = QuantSearch.MakeQx(x.Slice(16 * ib, 16), 32, l.Slice(16 * ib, 16));
                scales[ib] = scale;
                float absScale = MathF.Abs(scale);
                if (absScale > maxAbsScale)
                {
                    maxAbsScale = absScale;
                    maxScale = scale;
                }
            }

            y.Clear();
            if (maxAbsScale < GroupMaxEps)
            {
                continue;
            }

            var sc = y.Slice(192, 16);
            float iscale = -128f / maxScale;
            BlockSpans.WriteHalf(y, 208, 1 / iscale);
            for (int ib = 0; ib < 16; ib++)
            {
                sc[ib] = unchecked((byte)(sbyte)Math.Min(127, QuantSearch.NearestInt(iscale * scales[ib])));
            }

            for (int j = 0; j < 16; j++)
            {
                float d = F16(y, 208) * (sbyte)sc[j];
                if (d == 0) continue;
                for (int ii = 0; ii < 16; ii++)
                {
                    int li = Math.Max(-32, Math.Min(31, QuantSearch.NearestInt(x[16 * j + ii] / d)));
                    l[16 * j + ii] = (sbyte)(li + 32);
                }
            }

            for (int j = 0; j < 256; j += 128)
            {
                var ql = y.Slice(j / 2, 64);
                var qh = y.Slice(128 + j / 4, 32);
                for (int i = 0; i < 32; i++)
                {
                    int q1 = l[j + i] & 0xF;
                    int q2 = l[j + i + 32] & 0xF;
                    int q3 = l[j + i + 64] & 0xF;
                    int q4 = l[j + i + 96] & 0xF;
                    ql[i] = (byte)(q1 | (q3 << 4));
                    ql[i + 32] = (byte)(q2 | (q4 << 4));
                    qh[i] = (byte)((l[j + i] >> 4) | ((l[j + i + 32] >> 4) << 2) | ((l[j + i + 64] >> 4) << 4) | ((l[j + i + 96] >> 4) << 6));
                }
            }
        }
    }

    /// <summary>
    /// The shared head of Q4_K and Q5_K: per 32 values the (av + |x|)-weighted scale/min fit, the eight pairs packed as
    /// 6-bit fields with f16 d and dmin, then every value re-quantized against the rounded scales into <paramref name="l"/>.
    /// </summary>
    private static void ScaleMinBlock(ReadOnlySpan<float> x, Span<byte> y, Span<byte> l, int nmax, float rmin, int nstep)
    {
        Span<byte> laux = stackalloc byte[32];
        Span<float> weights = stackalloc float[32];
        Span<float> mins = stackalloc float[8];
        Span<float> scales = stackalloc float[8];
        float maxScale = 0;
        float maxMin = 0;
        for (int j = 0; j < 8; j++)
        {
            var xj = x.Slice(32 * j, 32);
            float sumX2 = 0;
            for (int i = 0; i < 32; i++) sumX2 += xj[i] * xj[i];
            float avX = MathF.Sqrt(sumX2 / 32);
            for (int i = 0; i < 32; i++) weights[i] = avX + MathF.Abs(xj[i]);
            scales[j] = QuantSearch.MakeQkx2(xj, weights, nmax, l.Slice(32 * j, 32), laux, out mins[j], rmin, 0.1f, nstep, false);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }

        var sc = y.Slice(4, 12);
        sc.Clear();
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        for (int j = 0; j < 8; j++)
        {
            byte ls = Math.Min((byte)63, unchecked((byte)QuantSearch.NearestInt(invScale * scales[j])));
            byte lm = Math.Min((byte)63, unchecked((byte)QuantSearch.NearestInt(invMin * mins[j])));
            if (j < 4)
            {
                sc[j] = ls;
                sc[j + 4] = lm;
            }
            else
            {
                sc[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
                sc[j - 4] |= (byte)((ls >> 4) << 6);
                sc[j] |= (byte)((lm >> 4) << 6);
            }
        }

        BlockSpans.WriteHalf(y, 0, maxScale / 63f);
        BlockSpans.WriteHalf(y, 2, maxMin / 63f);
        for (int j = 0; j < 8; j++)
        {
            var (s, m) = KQuantScales.Get(j, sc);
            float d = F16(y, 0) * s;
            if (d == 0) continue;
            float dm = F16(y, 2) * m;
            for (int ii = 0; ii < 32; ii++)
            {
                l[32 * j + ii] = (byte)Math.Max(0, Math.Min(nmax, QuantSearch.NearestInt((x[32 * j + ii] + dm) / d)));
            }
        }
    }

    /// <summary>Packs 256 two-bit quants as ggml's Q2_K/Q3_K qs: per 128 values, byte i holds values i, i+32, i+64, i+96.</summary>
    private static void PackTwoBits(ReadOnlySpan<byte> l, Span<byte> qs)
    {
        for (int j = 0; j < 256; j += 128)
        {
            for (int i = 0; i < 32; i++)
            {
                qs[j / 4 + i] = (byte)(l[j + i] | (l[j + i + 32] << 2) | (l[j + i + 64] << 4) | (l[j + i + 96] << 6));
            }
        }
    }
}
