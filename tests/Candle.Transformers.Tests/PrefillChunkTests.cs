using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Transformers.Generation;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;
using Candle.Transformers.Tests.Gguf;

namespace Candle.Transformers.Tests;

/// <summary>
/// Prefill from any position (<see cref="DecoderSession.PrefillChunkLength"/>, <see cref="ICausalLanguageModel.TracePrefillChunk"/>):
/// a prompt run in chunks, or continued from a filled cache, gives the logits and cache entries of the one-step prefill
/// from position 0 (the path the golden tests check against transformers), within float32 rounding; with a float16
/// cache within the bound of that cache's rounding, since later chunks attend to the rounded entries of earlier ones.
/// </summary>
public class PrefillChunkTests
{
    private static readonly Reference Llama = Reference.Load("llama");

    public static TheoryData<string, bool> Models => new()
    {
        { "hf-llama", false }, { "gguf-q8_0", false }, { "gguf-q4_0", false }, { "hf-llama", true }, { "gguf-q4_0", true },
    };

    private static string PathOf(string model) => model == "hf-llama" ? Llama.Dir : GgufFixtures.File(model["gguf-".Length..]);

    private static DecoderSession Compile(string which, bool f16)
    {
        var model = (ICausalLanguageModel)ModelRegistry.Load(PathOf(which), new ModelLoadOptions { KvCacheDType = f16 ? DType.F16 : null });
        return DecoderSession.Compile(model, CpuBackend.Instance);
    }

    // Float32 caches: the chunks compute the same sums as one step, at most in another order (a product over fewer rows
    // takes another kernel), so 1e-4 relative bounds them. Float16 caches: a later chunk attends to the earlier
    // entries rounded to f16 where one step attends to them in f32, the difference a decode step from an f16 cache
    // has (see KvCacheDTypeTests): 1e-2 of the logits' range with float weights, 0.08 with quantized ones.
    private static double Bound(string which, bool f16, float[] want, float value)
    {
        if (!f16) return 1e-4 * (1 + Math.Abs(value));
        return which.StartsWith("gguf", StringComparison.Ordinal) ? 0.08 : 1e-2 * (want.Max() - want.Min());
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void A_prompt_prefilled_in_chunks_matches_the_one_step_prefill(string which, bool f16)
    {
        using var session = Compile(which, f16);
        Assert.True(session.CanPrefillFromAnyPosition);
        int[] prompt = Llama.PromptIds;
        Assert.True(prompt.Length >= 5, "the prompt needs several chunks");
        var ids = Ids(prompt);
        session.Reset(prompt.Length + 1);
        var want = session.Prefill(ids).AsSpan<float>().ToArray();
        var wantKeys = CacheEntries(session);

        foreach (int chunk in new[] { 1, 2, prompt.Length - 1 })
        {
            session.PrefillChunkLength = chunk;
            session.Reset(prompt.Length + 1);
            var got = session.Prefill(ids).AsSpan<float>().ToArray();
            Assert.Equal(prompt.Length, session.Position);
            AssertClose(which, f16, want, got, $"{which} f16={f16} chunk {chunk} logits");
            AssertCacheClose(which, f16, wantKeys, CacheEntries(session), $"{which} f16={f16} chunk {chunk}");
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void A_prefill_continues_from_a_filled_cache_and_decoding_goes_on_from_there(string which, bool f16)
    {
        using var session = Compile(which, f16);
        int[] prompt = Llama.PromptIds;
        int split = prompt.Length / 2;
        session.Reset(prompt.Length + 1);
        var want = session.Prefill(Ids(prompt)).AsSpan<float>().ToArray();
        var wantEntries = CacheEntries(session);
        int next = Argmax(want);
        var wantNext = session.Decode(HostTensor.FromArray([(long)next], 1, 1)).AsSpan<float>().ToArray();

        // The second turn starts where the first left the cache: positions split.. of the same prompt.
        session.Reset(prompt.Length + 1);
        session.Prefill(Ids(prompt[..split]));
        Assert.Equal(split, session.Position);
        var got = session.Prefill(Ids(prompt[split..])).AsSpan<float>().ToArray();
        Assert.Equal(prompt.Length, session.Position);
        AssertClose(which, f16, want, got, $"{which} f16={f16} continued logits");
        AssertCacheClose(which, f16, wantEntries, CacheEntries(session), $"{which} f16={f16} continued");
        var gotNext = session.Decode(HostTensor.FromArray([(long)next], 1, 1)).AsSpan<float>().ToArray();
        AssertClose(which, f16, wantNext, gotNext, $"{which} f16={f16} decode after the continued prefill");
    }

    [Fact]
    public void A_session_without_the_step_refuses_to_continue_and_bad_arguments_are_named()
    {
        var model = (ICausalLanguageModel)ModelRegistry.Load(Llama.Dir);
        IBackend cpu = CpuBackend.Instance;
        var prefill = cpu.Compile(model.TracePrefill());
        var decode = cpu.Compile(model.TraceDecode());
        using var session = new DecoderSession(model.Shape, prefill, decode);
        Assert.False(session.CanPrefillFromAnyPosition);
        session.Reset(8);
        session.Prefill(Ids([1, 2, 3]));
        var e = Assert.Throws<InvalidOperationException>(() => session.Prefill(Ids([4])));
        Assert.Contains("empty cache", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => session.PrefillChunkLength = 0);
        session.Reset(8);
        var empty = Assert.Throws<ArgumentException>(() => session.Prefill(HostTensor.FromArray(Array.Empty<long>(), 1, 0)));
        Assert.Contains("at least one token", empty.Message, StringComparison.Ordinal);
    }

    private static HostTensor Ids(int[] ids) => HostTensor.FromArray([.. ids.Select(i => (long)i)], 1, ids.Length);

    // Every layer's cached keys and values as float32, in the order keys then values of each layer.
    private static List<float[]> CacheEntries(DecoderSession session)
    {
        var cache = session.Cache!;
        var entries = new List<float[]>();
        for (int l = 0; l < cache.Layers; l++)
        {
            entries.Add(cache.Keys(l).ToFloat32());
            entries.Add(cache.Values(l).ToFloat32());
        }

        return entries;
    }

    private static void AssertClose(string which, bool f16, float[] want, float[] got, string what)
    {
        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < want.Length; i++)
        {
            double bound = Bound(which, f16, want, want[i]);
            Assert.True(Math.Abs(want[i] - got[i]) <= bound, $"{what} [{i}]: {got[i]} vs {want[i]} (bound {bound})");
        }
    }

    // Cached entries: with a float32 cache as the logits; with a float16 cache the first chunk's entries are those of one
    // step rounded alike, and later ones move by the rounding of what they attended to, so the bound is relative to
    // each layer's range of entries (1e-2 of it, as for the logits).
    private static void AssertCacheClose(string which, bool f16, List<float[]> want, List<float[]> got, string what)
    {
        Assert.Equal(want.Count, got.Count);
        for (int t = 0; t < want.Count; t++)
        {
            Assert.Equal(want[t].Length, got[t].Length);
            double range = want[t].Max() - want[t].Min();
            for (int i = 0; i < want[t].Length; i++)
            {
                double bound = f16 ? 1e-2 * range : 1e-4 * (1 + Math.Abs(want[t][i]));
                Assert.True(Math.Abs(want[t][i] - got[t][i]) <= bound, $"{what} cache tensor {t} [{i}]: {got[t][i]} vs {want[t][i]} (bound {bound})");
            }
        }
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
