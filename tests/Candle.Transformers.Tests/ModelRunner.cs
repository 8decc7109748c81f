using Candle.Compiler.Backends;
using Candle.Runtime.Tensors;
using Candle.Transformers.Generation;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Tests;

internal static class ModelRunner
{
    public static HostTensor FullLogits(IPretrainedModel model, long[] ids, int batch = 1, string backend = "reference") =>
        BackendRegistry.Get(backend).Compile(model.TraceForward(), CompileOptions.Default).Run([HostTensor.FromArray(ids, batch, ids.Length / batch)])[0];

    public static long[] RandomIds(int n, int seed, int vocab)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => (long)rng.Next(vocab))];
    }

    /// <summary>
    /// Runs ids [batch, n] through prefill of the first <paramref name="prefill"/> tokens and decode steps for the rest,
    /// and returns the worst difference from the full forward's logits at every position from prefill − 1 on.
    /// </summary>
    public static double CachedVersusFull(ICausalLanguageModel model, long[] ids, int batch, int prefill, string backend = "reference")
    {
        int n = ids.Length / batch;
        int v = model.VocabSize;
        var full = FullLogits(model, ids, batch).ToFloat32();
        var session = DecoderSession.Compile(model, BackendRegistry.Get(backend));
        session.Reset(n, batch);
        var prompt = new long[batch * prefill];
        for (int b = 0; b < batch; b++) Array.Copy(ids, b * n, prompt, b * prefill, prefill);
        double worst = Compare(session.Prefill(HostTensor.FromArray(prompt, batch, prefill)), prefill - 1);
        for (int t = prefill; t < n; t++)
        {
            var step = new long[batch];
            for (int b = 0; b < batch; b++) step[b] = ids[(b * n) + t];
            worst = Math.Max(worst, Compare(session.Decode(HostTensor.FromArray(step, batch, 1)), t));
        }

        Assert.Equal(n, session.Position);
        return worst;

        double Compare(HostTensor logits, int position)
        {
            Assert.Equal([batch, 1, v], logits.Shape);
            var got = logits.ToFloat32();
            double m = 0;
            for (int b = 0; b < batch; b++)
            {
                for (int i = 0; i < v; i++) m = Math.Max(m, Math.Abs(got[(b * v) + i] - full[(((b * n) + position) * v) + i]));
            }

            return m;
        }
    }
}
