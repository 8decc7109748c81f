using Candle.Compiler.Backends.Cpu;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Transformers.Generation;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;
using Candle.Transformers.Tests.Gguf;

namespace Candle.Transformers.Tests;

/// <summary>
/// A half-precision KV cache (<see cref="ModelLoadOptions.KvCacheDType"/>) against the float32 cache of the same model:
/// the prefill's cached entries are the float32 entries rounded to f16, and every decode step's logits stay within
/// a bound set by f16's rounding (a relative error of at most 2⁻¹¹ per cached key and value).
/// </summary>
public class KvCacheDTypeTests
{
    private static readonly Reference Llama = Reference.Load("llama");

    public static TheoryData<string> Models => new() { "hf-llama", "gguf-q8_0", "gguf-q4_0" };

    private static string PathOf(string model) => model == "hf-llama" ? Llama.Dir : GgufFixtures.File(model["gguf-".Length..]);

    [Theory]
    [MemberData(nameof(Models))]
    public void An_f16_cache_holds_the_f32_entries_rounded_and_decodes_the_same_logits_within_f16_rounding(string which)
    {
        string path = PathOf(which);
        var f32Model = (ICausalLanguageModel)ModelRegistry.Load(path);
        var f16Model = (ICausalLanguageModel)ModelRegistry.Load(path, new ModelLoadOptions { KvCacheDType = DType.F16 });
        Assert.Equal(DType.F32, f32Model.KvCacheDType);
        Assert.Equal(DType.F16, f16Model.KvCacheDType);
        using var f32 = DecoderSession.Compile(f32Model, CpuBackend.Instance);
        using var f16 = DecoderSession.Compile(f16Model, CpuBackend.Instance);
        Assert.Equal(DType.F16, f16.Shape.DType);

        const int steps = 8;
        int[] prompt = Llama.PromptIds;
        var ids = HostTensor.FromArray([.. prompt.Select(i => (long)i)], 1, prompt.Length);
        f32.Reset(prompt.Length + steps);
        f16.Reset(prompt.Length + steps);
        var a = f32.Prefill(ids).AsSpan<float>().ToArray();
        var b = f16.Prefill(ids).AsSpan<float>().ToArray();
        Assert.Equal(DType.F16, f16.Cache!.DType);

        // The prefill computes its keys and values in f32 either way; the f16 cache stores each rounded to nearest.
        for (int l = 0; l < f32Model.NumLayers; l++)
        {
            foreach (var (x, y) in new[] { (f32.Cache!.Keys(l), f16.Cache.Keys(l)), (f32.Cache.Values(l), f16.Cache.Values(l)) })
            {
                var wide = x.AsSpan<float>();
                var half = y.AsSpan<Half>();
                Assert.Equal(wide.Length, half.Length);
                for (int i = 0; i < wide.Length; i++) Assert.Equal((Half)wide[i], half[i]);
            }
        }

        Assert.Equal(a, b);
        for (int t = 0; t < steps; t++)
        {
            // Both sessions take the f32 run's greedy token, so each step differs only by the cache's rounding.
            long next = Argmax(a);
            a = f32.Decode(HostTensor.FromArray([next], 1, 1)).AsSpan<float>().ToArray();
            b = f16.Decode(HostTensor.FromArray([next], 1, 1)).AsSpan<float>().ToArray();

            // Float weights: a relative error ε = 2⁻¹¹ in every k and v moves the attention output by about 2ε of its
            // size, and the logits by as much of their range; 1e-2 of the range bounds that with a wide margin while
            // catching a cache read as raw bits or in the wrong dtype. Quantized weights: each product quantizes its
            // activations to 8-bit blocks, so the cache's rounding can flip an activation by one rounding step; the
            // bound is then that of the quantized kernels against dequantized float32 weights, 0.08 (as for the
            // llama.cpp agreement of these files).
            float range = a.Max() - a.Min();
            double bound = which.StartsWith("gguf", StringComparison.Ordinal) ? 0.08 : 1e-2 * range;
            double worst = a.Zip(b, (p, q) => Math.Abs(p - q)).Max();
            Assert.True(worst <= bound, $"{which} step {t}: logits differ by {worst} (range {range}, bound {bound})");

            // The greedy choice agrees unless the f32 run's best two logits lie within the bound of each other.
            var top = a.OrderDescending().Take(2).ToArray();
            if (top[0] - top[1] > 2 * bound) Assert.Equal(Argmax(a), Argmax(b));
        }
    }

    [Fact]
    public void A_cache_dtype_that_is_not_floating_point_is_refused_naming_it()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelRegistry.Load(Llama.Dir, new ModelLoadOptions { KvCacheDType = DType.I8 }));
        Assert.Contains("KV cache dtype", e.Message, StringComparison.Ordinal);
        Assert.Contains("int8", e.Message, StringComparison.Ordinal);
    }

    private static int Argmax(float[] x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++)
        {
            if (x[i] > x[best]) best = i;
        }

        return best;
    }
}
