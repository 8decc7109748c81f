using Candle.Compiler.Backends.Cpu;
using Candle.Runtime.Tensors;
using Candle.Transformers.Generation;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Tests;

/// <summary>
/// A token id outside the vocabulary given to a CPU decoder session (a prompt in one step, in chunks, and a decode step)
/// raises an exception naming index_select, the id and the vocabulary size (the plan names its failing step), and the session's position stays where it was, so the
/// next valid step continues as if the refused one had not been asked for.
/// </summary>
public class OutOfRangeTokenTests
{
    private static readonly Reference Llama = Reference.Load("llama");

    [Fact]
    public void An_out_of_range_token_raises_naming_the_op_and_leaves_the_position()
    {
        var model = (ICausalLanguageModel)ModelRegistry.Load(Llama.Dir);
        using var session = DecoderSession.Compile(model, CpuBackend.Instance);
        long vocab = session.Shape.VocabSize;
        session.Reset(16);
        var e = Assert.Throws<InvalidOperationException>(() => session.Prefill(HostTensor.FromArray([3L, vocab], 1, 2)));
        Assert.Contains($"index_select: index {vocab} (at position 1) is out of range for a dimension of size {vocab}", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, session.Position);

        session.Prefill(HostTensor.FromArray([3L, 9], 1, 2));
        Assert.Equal(2, session.Position);
        e = Assert.Throws<InvalidOperationException>(() => session.Decode(HostTensor.FromArray([-1L], 1, 1)));
        Assert.Contains("index_select: index -1", e.Message, StringComparison.Ordinal);
        Assert.Equal(2, session.Position);

        // A continued prompt (the prefill from a filled cache) refuses it as well.
        e = Assert.Throws<InvalidOperationException>(() => session.Prefill(HostTensor.FromArray([4L, 5, vocab + 7], 1, 3)));
        Assert.Contains($"index_select: index {vocab + 7}", e.Message, StringComparison.Ordinal);
        Assert.Equal(2, session.Position);
    }
}
