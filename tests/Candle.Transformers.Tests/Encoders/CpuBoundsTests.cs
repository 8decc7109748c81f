using Candle.Compiler.Backends.Cpu;
using Candle.Runtime.Tensors;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Bert;
using static Candle.Transformers.Tests.Encoders.EncoderTestKit;

namespace Candle.Transformers.Tests.Encoders;

/// <summary>A compiled plan checks symbolic slice bounds per call, as the reference interpreter does.</summary>
public class CpuBoundsTests
{
    [Fact]
    public void More_tokens_than_position_embeddings_fail_instead_of_reading_past_the_table()
    {
        var model = (BertModel)ModelRegistry.Load(Candle.Tests.Fixtures.Model("bert"));
        int max = model.Settings.MaxPositionEmbeddings;
        foreach (int seq in new[] { max + 2, 12 * max })
        {
            var ids = HostTensor.FromArray(new long[seq], 1, seq);
            var given = new Dictionary<string, HostTensor> { ["input_ids"] = ids };
            var inputs = new Dictionary<string, HostTensor>
            {
                ["input_ids"] = ids,
                ["attention_mask"] = model.DefaultInput("attention_mask", given)!,
                ["token_type_ids"] = model.DefaultInput("token_type_ids", given)!,
            };
            var e = Assert.Throws<InvalidOperationException>(() => Run(CpuBackend.Instance, model.TraceForward(), inputs));
            Assert.Contains($"[0:{seq}]", e.Message, StringComparison.Ordinal);
            Assert.Contains($"{max}", e.Message, StringComparison.Ordinal);
        }

        // In range, the same plan runs.
        var ok = HostTensor.FromArray(new long[max], 1, max);
        var okGiven = new Dictionary<string, HostTensor> { ["input_ids"] = ok };
        Assert.NotEmpty(Run(CpuBackend.Instance, model.TraceForward(), new Dictionary<string, HostTensor>
        {
            ["input_ids"] = ok,
            ["attention_mask"] = model.DefaultInput("attention_mask", okGiven)!,
            ["token_type_ids"] = model.DefaultInput("token_type_ids", okGiven)!,
        }));
    }
}
