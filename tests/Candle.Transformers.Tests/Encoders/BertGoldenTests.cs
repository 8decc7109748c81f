using Candle.Compiler.Backends;
using Candle.Runtime.Tensors;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Bert;
using static Candle.Transformers.Tests.Encoders.EncoderTestKit;

namespace Candle.Transformers.Tests.Encoders;

/// <summary>BertModel against transformers' outputs for the bundled tiny checkpoint; one subclass per backend.</summary>
public abstract class BertGoldenTests
{
    protected abstract IBackend Backend { get; }

    [Theory]
    [InlineData(AttentionImplementation.Sdpa)]
    [InlineData(AttentionImplementation.Eager)]
    public void Matches_transformers_including_padded_rows(string attention)
    {
        using var refs = ReferenceFile("bert");
        string dir = Candle.Tests.Fixtures.Model("bert");
        var model = new BertModel(BertConfig.FromHf(HfConfig.Load(dir)) with { AttnImplementation = attention });
        using var weights = Candle.Runtime.Weights.SafeTensors.SafeTensorsCheckpoint.Open(dir);
        model.LoadStateDict(n => weights.Contains(n) ? weights.Get(n) : null);
        var g = model.TraceForward();
        Assert.Equal(["last_hidden_state", "pooler_output"], g.OutputNames.ToArray());
        var inputs = new Dictionary<string, HostTensor>
        {
            ["input_ids"] = refs.Get("input_ids"),
            ["attention_mask"] = refs.Get("attention_mask"),
            ["token_type_ids"] = refs.Get("token_type_ids"),
        };
        Assert.Contains(0L, refs.Get("attention_mask").ToInt64());
        var outs = Run(Backend, g, inputs);
        Assert.True(MaxAbsDiff(refs.Get("last_hidden_state"), Output(g, outs, "last_hidden_state")) <= 1e-4);
        Assert.True(MaxAbsDiff(refs.Get("pooler_output"), Output(g, outs, "pooler_output")) <= 1e-4);
    }

    [Fact]
    public void Registry_builds_a_BertModel_with_pooler()
    {
        var model = Assert.IsType<BertModel>(ModelRegistry.Load(Candle.Tests.Fixtures.Model("bert")));
        Assert.NotNull(model.Pooler);
        Assert.Equal(AttentionImplementation.Sdpa, model.Settings.AttnImplementation);
    }

    [Fact]
    public void Default_inputs_are_an_all_ones_mask_and_zero_token_types()
    {
        var model = (BertModel)ModelRegistry.Load(Candle.Tests.Fixtures.Model("bert"));
        var ids = HostTensor.FromArray(new long[] { 5, 6, 7, 8, 9, 10 }, 2, 3);
        var given = new Dictionary<string, HostTensor> { ["input_ids"] = ids };
        Assert.Equal([1L, 1, 1, 1, 1, 1], model.DefaultInput("attention_mask", given)!.ToInt64());
        Assert.Equal([0L, 0, 0, 0, 0, 0], model.DefaultInput("token_type_ids", given)!.ToInt64());
        Assert.Null(model.DefaultInput("input_ids", given));
    }
}

public sealed class ReferenceBertGoldenTests : BertGoldenTests
{
    protected override IBackend Backend => EncoderTestKit.ReferenceBackendInstance;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Positions_or_ids_out_of_range_are_errors(bool badId)
    {
        var model = (BertModel)ModelRegistry.Load(Candle.Tests.Fixtures.Model("bert"));
        int seq = badId ? 4 : model.Settings.MaxPositionEmbeddings + 2;
        var idData = new long[seq];
        if (badId) idData[1] = model.Settings.VocabSize;
        var ids = HostTensor.FromArray(idData, 1, seq);
        var given = new Dictionary<string, HostTensor> { ["input_ids"] = ids };
        var inputs = new Dictionary<string, HostTensor>
        {
            ["input_ids"] = ids,
            ["attention_mask"] = model.DefaultInput("attention_mask", given)!,
            ["token_type_ids"] = model.DefaultInput("token_type_ids", given)!,
        };
        var e = Assert.ThrowsAny<ArgumentException>(() => Run(Backend, model.TraceForward(), inputs));
        Assert.Contains(badId ? $"{model.Settings.VocabSize}" : $"{model.Settings.MaxPositionEmbeddings}", e.Message, StringComparison.Ordinal);
    }
}
