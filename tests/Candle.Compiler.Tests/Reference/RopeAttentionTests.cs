using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using CsCheck;
using static Candle.Compiler.Tests.Reference.Ref;

namespace Candle.Compiler.Tests.Reference;

public class RopeAttentionTests
{
    [Fact]
    public void RopeHalvesLayout()
    {
        // D = 4, cos = [0, 1], sin = [1, 0]: pair (x0, x2) rotates by 90°, pair (x1, x3) stays
        var r = Run(i => IrBuilder.Rope(i[0], i[1], i[2], interleaved: false), F32([1, 2, 3, 4], 1, 4), F32([0, 1], 1, 2), F32([1, 0], 1, 2));
        Assert.Equal(new[] { -3.0, 2, 1, 4 }, D(r));
    }

    [Fact]
    public void RopeInterleavedLayout()
    {
        // pairs (x0, x1) and (x2, x3): the first rotates by 90°
        var r = Run(i => IrBuilder.Rope(i[0], i[1], i[2], interleaved: true), F32([1, 2, 3, 4], 1, 4), F32([0, 1], 1, 2), F32([1, 0], 1, 2));
        Assert.Equal(new[] { -2.0, 1, 3, 4 }, D(r));
    }

    [Fact]
    public void RopeBroadcastsCosSinAndPreservesPairNorms()
    {
        Gen.Select(Gen.Int[1, 3], Gen.Int[1, 4], Gen.Int[1, 4], Gen.Bool, Gen.Int[0, 1000]).Sample((heads, seq, half, interleaved, seed) =>
        {
            int d = 2 * half;
            var x = Rand(heads * seq * d, seed);
            var ang = Rand(seq * half, seed + 1, 3);
            var cos = ang.Select(a => (double)MathF.Cos(a)).ToArray();
            var sin = ang.Select(a => (double)MathF.Sin(a)).ToArray();
            var r = D(Run(i => IrBuilder.Rope(i[0], i[1], i[2], interleaved), F64([.. x.Select(v => (double)v)], heads, seq, d), F64(cos, seq, half), F64(sin, seq, half)));
            for (int h = 0; h < heads; h++)
            {
                for (int s = 0; s < seq; s++)
                {
                    int o = ((h * seq) + s) * d;
                    for (int p = 0; p < half; p++)
                    {
                        int i0 = interleaved ? o + (2 * p) : o + p;
                        int i1 = interleaved ? i0 + 1 : o + p + half;
                        double c = cos[(s * half) + p], sn = sin[(s * half) + p];
                        Assert.Equal((x[i0] * c) - (x[i1] * sn), r[i0], 1e-12);
                        Assert.Equal((x[i1] * c) + (x[i0] * sn), r[i1], 1e-12);
                        Assert.Equal((x[i0] * x[i0]) + (x[i1] * x[i1]), (r[i0] * r[i0]) + (r[i1] * r[i1]), 1e-6);
                    }
                }
            }
        }, iter: 30);
    }

    /// <summary>A naive per-head attention in float: GQA, bottom-right causal, bool keep mask or additive mask.</summary>
    private static float[] NaiveAttention(float[] q, float[] k, float[] v, int b, int h, int hkv, int sq, int sk, int d, int dv, float scale, bool causal, bool[]? keep, float[]? add)
    {
        var y = new float[b * h * sq * dv];
        for (int bi = 0; bi < b; bi++)
        {
            for (int hi = 0; hi < h; hi++)
            {
                int kv = hi / (h / hkv);
                for (int i = 0; i < sq; i++)
                {
                    var s = new float[sk];
                    for (int j = 0; j < sk; j++)
                    {
                        float dot = 0;
                        for (int t = 0; t < d; t++) dot += q[((((bi * h) + hi) * sq) + i) * d + t] * k[((((bi * hkv) + kv) * sk) + j) * d + t];
                        s[j] = dot * scale;
                        int m = ((((bi * h) + hi) * sq) + i) * sk + j;
                        if (causal && j > i + (sk - sq)) s[j] = float.NegativeInfinity;
                        if (keep is not null && !keep[m]) s[j] = float.NegativeInfinity;
                        if (add is not null) s[j] += add[m];
                    }

                    float max = s.Max();
                    var p = s.Select(x => MathF.Exp(x - max)).ToArray();
                    float sum = p.Sum();
                    for (int j = 0; j < sk; j++)
                    {
                        for (int t = 0; t < dv; t++) y[((((bi * h) + hi) * sq) + i) * dv + t] += p[j] / sum * v[((((bi * hkv) + kv) * sk) + j) * dv + t];
                    }
                }
            }
        }

        return y;
    }

    [Fact]
    public void AttentionMatchesANaiveLoop()
    {
        var gen = Gen.Select(Gen.Int[1, 2], Gen.Int[1, 2], Gen.Int[1, 2], Gen.Int[1, 4], Gen.Int[0, 3], Gen.Int[1, 5], Gen.Int[0, 3], Gen.Int[0, 1000]);
        gen.Sample((b, hkv, groups, sq, extra, d, maskKind, seed) =>
        {
            int h = hkv * groups, sk = sq + extra, dv = d + (seed % 3);
            var q = Rand(b * h * sq * d, seed);
            var k = Rand(b * hkv * sk * d, seed + 1);
            var v = Rand(b * hkv * sk * dv, seed + 2);
            bool causal = maskKind == 1;
            var rnd = new Random(seed);
            bool[]? keep = maskKind == 2 ? [.. Enumerable.Range(0, b * h * sq * sk).Select(i => i % sk == 0 || rnd.Next(2) == 0)] : null;
            float[]? add = maskKind == 3 ? Rand(b * h * sq * sk, seed + 3, 2) : null;
            var inputs = new List<HostTensor> { F32(q, b, h, sq, d), F32(k, b, hkv, sk, d), F32(v, b, hkv, sk, dv) };
            if (keep is not null) inputs.Add(HostTensor.FromArray(keep, b, h, sq, sk));
            if (add is not null) inputs.Add(F32(add, b, h, sq, sk));
            var r = Run(i => IrBuilder.Attention(i[0], i[1], i[2], i.Length > 3 ? i[3] : null, causal), [.. inputs]);
            Assert.Equal([b, h, sq, dv], r.ShapeArray());
            var expected = NaiveAttention(q, k, v, b, h, hkv, sq, sk, d, dv, 1 / MathF.Sqrt(d), causal, keep, add);
            Close(expected, D(r), 1e-5);
        }, iter: 40);
    }

    [Fact]
    public void CausalMaskIsBottomRightAligned()
    {
        // 1 query over 3 keys: the query is the last position and sees every key (a decode step).
        var q = F32([1, 0], 1, 1, 1, 2);
        var k = F32([0, 0, 0, 0, 0, 0], 1, 1, 3, 2);
        var v = F32([3, 6, 9], 1, 1, 3, 1);
        Assert.Equal(6.0, D(Run(i => IrBuilder.Attention(i[0], i[1], i[2], causal: true), q, k, v))[0], 1e-6);
        // 2 queries over 3 keys: query 0 sees keys 0..1, query 1 sees all
        var q2 = F32([1, 0, 1, 0], 1, 1, 2, 2);
        var r = D(Run(i => IrBuilder.Attention(i[0], i[1], i[2], causal: true), q2, k, v));
        Assert.Equal(4.5, r[0], 1e-6);
        Assert.Equal(6.0, r[1], 1e-6);
    }

    [Fact]
    public void ScaleAndGroupedHeads()
    {
        // 2 query heads share one kv head; scores [0, ln 3 / scale · scale]
        double ln3 = Math.Log(3);
        var q = F64([1, 1], 1, 2, 1, 1);
        var k = F64([0, ln3 / 2], 1, 1, 2, 1);
        var v = F64([0, 4], 1, 1, 2, 1);
        var r = D(Run(i => IrBuilder.Attention(i[0], i[1], i[2], scale: 2), q, k, v));
        Close(new[] { 3.0, 3.0 }, r, 1e-12); // softmax [1/4, 3/4] · [0, 4]
    }

    [Fact]
    public void FullyMaskedRowsGiveNaN()
    {
        var q = F32([1, 1], 1, 1, 2, 1);
        var k = F32([1, 2], 1, 1, 2, 1);
        var v = F32([1, 2], 1, 1, 2, 1);
        var keep = HostTensor.FromArray(new[] { false, false, true, false }, 1, 1, 2, 2);
        var r = D(Run(i => IrBuilder.Attention(i[0], i[1], i[2], i[3]), q, k, v, keep));
        Assert.True(double.IsNaN(r[0]));
        Assert.Equal(1.0, r[1], 1e-6);
        var add = F32([float.NegativeInfinity, float.NegativeInfinity, 0, float.NegativeInfinity], 1, 1, 2, 2);
        var ra = D(Run(i => IrBuilder.Attention(i[0], i[1], i[2], i[3]), q, k, v, add));
        Assert.True(double.IsNaN(ra[0]));
        Assert.Equal(1.0, ra[1], 1e-6);
    }

    [Fact]
    public void AttentionInHalfPrecision()
    {
        var q = Of(DType.F16, [1, 0], 1, 1, 1, 2);
        var k = Of(DType.F16, [0, 0, 0, 0], 1, 1, 2, 2);
        var v = Of(DType.F16, [1, 3], 1, 1, 2, 1);
        var r = Run(i => IrBuilder.Attention(i[0], i[1], i[2]), q, k, v);
        Assert.Equal(DType.F16, r.DType);
        Assert.Equal(2.0, D(r)[0]);
    }
}
