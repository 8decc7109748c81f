using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Tests;

/// <summary>
/// The decode step over a fixed-size cache (<see cref="CausalLanguageModel.TraceStaticDecode"/>): the whole cache is
/// passed every step, the new entry written at the position, later rows masked. It reproduces transformers' greedy
/// continuation, never reads the rows after the position (they hold NaN here), and writes the cache in place.
/// </summary>
public class StaticDecodeTests
{
    private static readonly Reference Llama = Reference.Load("llama");

    [Fact]
    public void Fixed_size_cache_decode_reproduces_the_reference_continuation_without_reading_unwritten_rows()
    {
        var model = Assert.IsAssignableFrom<CausalLanguageModel>(ModelRegistry.Load(Llama.Dir));
        Assert.Equal(DType.F32, model.KvCacheDType);
        int prompt = Llama.PromptIds.Length, steps = Llama.GreedyContinuation.Length, capacity = prompt + steps + 3;
        using var prefill = Compiler.CandleCompiler.Compile(model.TracePrefill());
        using var decode = Compiler.CandleCompiler.Compile(model.TraceStaticDecode(capacity));

        // Every present_* output is the cache input's own buffer: the step writes the cache in place.
        var def = decode.Definition;
        for (int l = 0; l < model.NumLayers; l++)
        {
            foreach (var (present, cache) in new[] { (DecoderGraphNames.PresentKeys(l), DecoderGraphNames.CacheKeys(l)), (DecoderGraphNames.PresentValues(l), DecoderGraphNames.CacheValues(l)) })
            {
                var output = def.Outputs.Single(o => o.Name == present);
                Assert.Equal(def.Inputs.Single(i => i.Name == cache).Buffer, output.Buffer);
                Assert.Equal(BufferKind.Input, def.Buffers[output.Buffer].Kind);
            }
        }

        int row = model.NumKvHeads * model.HeadDim;
        var caches = new Dictionary<string, float[]>(StringComparer.Ordinal);
        var outs = prefill.Run([HostTensor.FromArray([.. Llama.PromptIds.Select(i => (long)i)], 1, prompt)]);
        for (int l = 0; l < model.NumLayers; l++)
        {
            foreach (var (cacheName, newName) in new[] { (DecoderGraphNames.CacheKeys(l), DecoderGraphNames.NewKeys(l)), (DecoderGraphNames.CacheValues(l), DecoderGraphNames.NewValues(l)) })
            {
                var c = Enumerable.Repeat(float.NaN, capacity * row).ToArray();
                outs[Index(prefill.OutputNames, newName)].ToFloat32().CopyTo(c, 0);
                caches[cacheName] = c;
            }
        }

        var got = new List<int> { GreedyLogits.ArgMaxLast(outs[Index(prefill.OutputNames, DecoderGraphNames.Logits)]) };
        var bound = decode.InputNames.Select(n => caches.TryGetValue(n, out var c) ? HostTensor.FromArray(c, capacity, 1, model.NumKvHeads, model.HeadDim) : null).ToArray();
        for (int pos = prompt; got.Count < steps; pos++)
        {
            var inputs = decode.InputNames.Select((n, i) =>
                n == DecoderGraphNames.InputIds ? HostTensor.FromArray([(long)got[^1]], 1, 1)
                : n == DecoderGraphNames.PositionIds ? HostTensor.FromArray([(long)pos], 1, 1)
                : bound[i]!).ToList();
            var step = decode.Run(inputs);
            var logits = step[Index(decode.OutputNames, DecoderGraphNames.Logits)].ToFloat32();
            Assert.All(logits, v => Assert.False(float.IsNaN(v), $"step at position {pos}: a NaN logit (an unwritten cache row was read)"));
            got.Add(GreedyLogits.ArgMaxLast(step[Index(decode.OutputNames, DecoderGraphNames.Logits)]));

            // The new entry landed in row pos; the rows after it are still unwritten.
            var keys = step[Index(decode.OutputNames, DecoderGraphNames.PresentKeys(0))].ToFloat32();
            Assert.Contains(keys[(pos * row)..((pos + 1) * row)], v => !float.IsNaN(v) && v != 0);
            Assert.All(keys[((pos + 1) * row)..], v => Assert.True(float.IsNaN(v)));
        }

        Assert.Equal(Llama.GreedyContinuation, got);
    }

    private static int Index(IReadOnlyList<string> names, string name)
    {
        int i = names.ToList().IndexOf(name);
        Assert.True(i >= 0, $"no '{name}' among {string.Join(", ", names)}");
        return i;
    }
}
