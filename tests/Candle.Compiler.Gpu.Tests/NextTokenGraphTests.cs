using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Transformers.Generation;
using Candle.Transformers.Models.Common;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// <see cref="DecoderSessionCompilation.WithNextToken"/> chooses the greedy token of the last position on the device as
/// the host sampler does (<see cref="Sampler.ArgMax"/>): the first of tied maxima, the first NaN, over a 32000-token
/// vocabulary and a small one, f32 and f16 logits, a batch of three rows whose earlier positions have other maxima; the
/// reference interpreter runs the same graph to the same tokens.
/// </summary>
public class NextTokenGraphTests
{
    [Theory]
    [InlineData(32000, DType.F32)]
    [InlineData(32000, DType.F16)]
    [InlineData(48, DType.F32)]
    [InlineData(48, DType.F16)]
    public void The_token_chosen_on_the_device_is_the_host_samplers_greedy_choice(int vocab, DType dt)
    {
        const int batch = 3, seq = 4;
        var x = Input("x", dt, Shape.Of(batch, seq, vocab));
        var step = WithStepOutputs(x);
        Assert.Equal([DecoderGraphNames.Logits, DecoderGraphNames.NextToken], step.OutputNames);

        var rng = new Random(vocab);
        var v = new float[batch * seq * vocab];
        for (int i = 0; i < v.Length; i++) v[i] = rng.Next(-20, 20) / 8f;
        Span<float> Last(int b) => v.AsSpan(((b * seq) + seq - 1) * vocab, vocab);
        for (int b = 0; b < batch; b++)
        {
            // Earlier positions hold a larger maximum that the last position's choice must not see.
            v[(b * seq * vocab) + 7] = 100f;
        }

        // Row 0: tied maxima far apart (the first wins); row 1: a NaN after a maximum and another later (the first NaN
        // wins); row 2: the maximum tied at the last index and one in the middle.
        Last(0)[vocab - 3] = 9f;
        Last(0)[5] = 9f;
        Last(0)[vocab / 2] = 9f;
        Last(1)[2] = 9f;
        Last(1)[vocab / 3] = float.NaN;
        Last(1)[vocab - 1] = float.NaN;
        Last(2)[vocab - 1] = 9f;
        Last(2)[(vocab / 2) + 1] = 9f;
        var input = HostTensor.FromArray(v, batch, seq, vocab).Cast(dt);

        var host = input.ToFloat32();
        var expected = new long[batch];
        for (int b = 0; b < batch; b++)
        {
            expected[b] = Sampler.ArgMax([.. host.AsSpan(((b * seq) + seq - 1) * vocab, vocab).ToArray().Select(f => 2.0 * f)]);
        }

        Assert.Equal([5L, vocab / 3, (vocab / 2) + 1], expected);
        using var exe = CandleCompiler.CompileExecutable(step, new CompileOptions { Backend = GpuBackends.IlgpuCpu });
        var outputs = exe.Run([input]);
        Assert.Equal(DType.I64, outputs[1].DType);
        Assert.Equal([batch], outputs[1].Shape);
        Assert.Equal(expected, outputs[1].AsSpan<long>().ToArray());
        Assert.Equal(expected, ReferenceInterpreter.Run(step, [input])[1].AsSpan<long>().ToArray());
    }

    [Fact]
    public void A_step_without_logits_is_refused_and_a_step_with_the_token_is_kept()
    {
        var x = Input("x", DType.F32, Shape.Of(1, 2, 5));
        var noLogits = new Graph([x], [Binary(Op.Add, x, x)], ["scores"]);
        var e = Assert.Throws<InvalidOperationException>(() => DecoderSessionCompilation.WithNextToken(noLogits));
        Assert.Contains(DecoderGraphNames.Logits, e.Message, StringComparison.Ordinal);
        var step = WithStepOutputs(x);
        Assert.Same(step, DecoderSessionCompilation.WithNextToken(step));
    }

    // A step whose logits are 2x, with the token appended.
    private static Graph WithStepOutputs(Node x) =>
        DecoderSessionCompilation.WithNextToken(new Graph([x], [Binary(Op.Add, x, x)], [DecoderGraphNames.Logits]));
}
