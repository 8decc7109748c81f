using Candle.Compiler.Backends;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Tests;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Bert;
using Candle.Transformers.Models.Whisper;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// The other reference models of tests/fixtures/refs on CUDA: BERT (padded rows, both attention implementations) and
/// Whisper (encoder state and decoder logits) within 1e-4 of transformers' float32 outputs, and the causal LMs loaded
/// in float16 within 2e-2 of the float32 logits. Skipped where no CUDA device opens.
/// </summary>
public class CudaEncoderGoldenTests
{
    [CudaTheory]
    [InlineData(AttentionImplementation.Sdpa)]
    [InlineData(AttentionImplementation.Eager)]
    public void BertMatchesTransformersIncludingPaddedRows(string attention)
    {
        using var refs = Reference("bert");
        string dir = Fixtures.Model("bert");
        var model = new BertModel(BertConfig.FromHf(HfConfig.Load(dir)) with { AttnImplementation = attention });
        using var weights = SafeTensorsCheckpoint.Open(dir);
        model.LoadStateDict(n => weights.Contains(n) ? weights.Get(n) : null);
        var g = model.TraceForward();
        Assert.Contains(0L, refs.Get("attention_mask").ToInt64());
        var outs = Run(g, new Dictionary<string, HostTensor>
        {
            ["input_ids"] = refs.Get("input_ids"),
            ["attention_mask"] = refs.Get("attention_mask"),
            ["token_type_ids"] = refs.Get("token_type_ids"),
        });
        AssertClose(refs.Get("last_hidden_state"), Output(g, outs, "last_hidden_state"), 1e-4, "bert last_hidden_state");
        AssertClose(refs.Get("pooler_output"), Output(g, outs, "pooler_output"), 1e-4, "bert pooler_output");
    }

    [CudaFact]
    public void WhisperMatchesTransformersLogitsAndEncoderState()
    {
        using var refs = Reference("whisper");
        var model = Assert.IsType<WhisperForConditionalGeneration>(ModelRegistry.Load(Fixtures.Model("whisper")));
        var g = model.TraceForward();
        var outs = Run(g, new Dictionary<string, HostTensor>
        {
            ["input_features"] = refs.Get("input_features"),
            ["decoder_input_ids"] = refs.Get("decoder_input_ids"),
        });
        AssertClose(refs.Get("encoder_last_hidden_state"), Output(g, outs, "encoder_last_hidden_state"), 1e-4, "whisper encoder_last_hidden_state");
        AssertClose(refs.Get("logits"), Output(g, outs, "logits"), 1e-4, "whisper logits");
    }

    [CudaTheory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void HalfPrecisionLogitsMatchTransformersFloat32(string name)
    {
        using var refs = Reference(name);
        var model = ModelRegistry.Load(Fixtures.Model(name), new ModelLoadOptions { DType = DType.F16 });
        using var exe = GpuBackends.Cuda.Compile(model.TraceForward(), CompileOptions.Default);
        var logits = exe.Run([refs.Get("input_ids")])[0];
        AssertClose(refs.Get("logits"), logits, 2e-2, name + " f16 logits");
    }

    private static SafeTensorsFile Reference(string model) => SafeTensorsFile.Open(Path.Combine(Fixtures.Model(model), "reference.safetensors"));

    private static HostTensor[] Run(Graph g, IReadOnlyDictionary<string, HostTensor> byName)
    {
        using var exe = GpuBackends.Cuda.Compile(g, CompileOptions.Default);
        return exe.Run([.. g.Inputs.Select(i => byName[i.Attr<InputAttrs>().Name])]);
    }

    private static HostTensor Output(Graph g, HostTensor[] outs, string name) => outs[g.OutputNames.IndexOf(name)];

    private static void AssertClose(HostTensor expected, HostTensor actual, double tolerance, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.ToFloat32();
        var a = actual.ToFloat32();
        double worst = 0;
        for (int i = 0; i < e.Length; i++)
        {
            double d = Math.Abs((double)e[i] - a[i]);
            worst = double.IsNaN(d) ? double.PositiveInfinity : Math.Max(worst, d);
        }

        Assert.True(worst <= tolerance, $"{what} on cuda: max abs error {worst} against transformers' float32 (tolerance {tolerance})");
    }
}
