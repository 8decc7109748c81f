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

    [Fact]
    public void Matches_transformers_including_padded_rows()
    {
        using var refs = ReferenceFile("bert");
        var model = (BertModel)ModelRegistry.Load(Candle.Tests.Fixtures.Model("bert"));
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
}
