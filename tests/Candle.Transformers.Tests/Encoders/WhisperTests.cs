using Candle.Compiler.Backends;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Torch;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Whisper;
using static Candle.Transformers.Tests.Encoders.EncoderTestKit;

namespace Candle.Transformers.Tests.Encoders;

/// <summary>Whisper against transformers' outputs and cached greedy decoding against the full forward; one subclass per backend.</summary>
public abstract class WhisperTests
{
    protected abstract IBackend Backend { get; }

    private static WhisperForConditionalGeneration Load() =>
        Assert.IsType<WhisperForConditionalGeneration>(ModelRegistry.Load(Candle.Tests.Fixtures.Model("whisper")));

    [Fact]
    public void Matches_transformers_logits_and_encoder_state()
    {
        using var refs = ReferenceFile("whisper");
        var model = Load();
        Assert.Null(model.ProjOut);
        var g = model.TraceForward();
        var outs = Run(Backend, g, new Dictionary<string, HostTensor>
        {
            ["input_features"] = refs.Get("input_features"),
            ["decoder_input_ids"] = refs.Get("decoder_input_ids"),
        });
        Assert.True(MaxAbsDiff(refs.Get("encoder_last_hidden_state"), Output(g, outs, "encoder_last_hidden_state")) <= 1e-4);
        Assert.True(MaxAbsDiff(refs.Get("logits"), Output(g, outs, "logits")) <= 1e-4);
    }

    [Fact]
    public void Cached_greedy_decoding_equals_the_full_forward_at_every_step()
    {
        using var refs = ReferenceFile("whisper");
        var model = Load();
        var features = refs.Get("input_features");
        int[] prompt = [.. refs.Get("decoder_input_ids").ToInt64().Take(3).Select(x => (int)x)];
        var decoder = new WhisperGreedyDecoder(model, Backend);
        var result = decoder.Generate(features, prompt, maxNewTokens: 6, stopTokens: []);
        Assert.Equal(6, result.StepLogits.Count);
        var tokens = result.Tokens[0];
        Assert.Equal(prompt.Length + 6, tokens.Count);
        Assert.Equal(prompt, tokens.Take(prompt.Length));

        var full = Compile(Backend, model.TraceForward());
        int vocab = model.Settings.VocabSize;
        for (int step = 0; step < 6; step++)
        {
            int len = prompt.Length + step;
            var ids = HostTensor.FromArray(tokens.Take(len).Select(t => (long)t).ToArray(), 1, len);
            var logits = full.Run([features, ids])[0].ToFloat32();
            var last = logits.AsSpan((len - 1) * vocab, vocab).ToArray();
            var cached = result.StepLogits[step];
            double diff = last.Zip(cached, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(diff <= 1e-4, $"step {step}: cached logits differ from the full forward by {diff}");
            int argmax = Array.IndexOf(last, last.Max());
            Assert.Equal(argmax, tokens[len]);
        }
    }

    [Fact]
    public void Decoding_stops_at_a_stop_token_and_pads_finished_rows()
    {
        using var refs = ReferenceFile("whisper");
        var model = Load();
        var f = refs.Get("input_features").ToFloat32();
        var two = HostTensor.FromArray([.. f, .. f.Select(x => -x)], 2, 16, 64);
        var decoder = new WhisperGreedyDecoder(model, Backend);
        var free = decoder.Generate(two, maxNewTokens: 4, stopTokens: []);
        int firstOfRow0 = free.Tokens[0][1];
        var stopped = decoder.Generate(two, maxNewTokens: 4, stopTokens: [firstOfRow0]);
        Assert.Equal(firstOfRow0, stopped.Tokens[0][1]);
        Assert.All(stopped.Tokens[0].Skip(2), t => Assert.Equal(model.Settings.PadTokenId, t));
        int row1Stop = free.Tokens[1].Skip(1).ToList().IndexOf(firstOfRow0);
        int same = row1Stop < 0 ? free.Tokens[1].Count : row1Stop + 2;
        Assert.Equal(free.Tokens[1].Take(same), stopped.Tokens[1].Take(same));
    }

    [Fact]
    public void Wrong_frame_count_is_rejected_with_both_shapes()
    {
        var model = Load();
        var e = Assert.Throws<ArgumentException>(() => Tracer.Trace(model.Model.Encoder, new TraceInput("input_features", DType.F32, 1, 16, 60)));
        Assert.Contains("[batch, 16, 64]", e.Message, StringComparison.Ordinal);
        Assert.Contains("60", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Default_decoder_input_is_the_start_token()
    {
        var model = Load();
        var f = HostTensor.Zeros(DType.F32, 3, 16, 64);
        var ids = model.DefaultInput("decoder_input_ids", new Dictionary<string, HostTensor> { ["input_features"] = f });
        Assert.Equal([3, 1], ids!.Shape);
        Assert.All(ids.ToInt64(), x => Assert.Equal(model.Settings.DecoderStartTokenId, x));
    }
}

public sealed class ReferenceWhisperTests : WhisperTests
{
    protected override IBackend Backend => EncoderTestKit.ReferenceBackendInstance;
}
