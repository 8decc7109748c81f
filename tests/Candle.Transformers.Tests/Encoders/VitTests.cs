using Candle.Compiler.Backends;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Torch;
using Candle.Torch.Nn;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Vit;
using static Candle.Transformers.Tests.Encoders.EncoderTestKit;

namespace Candle.Transformers.Tests.Encoders;

/// <summary>ViT on a tiny random-weight checkpoint, checked against independent computations; one subclass per backend.</summary>
public abstract class VitTests
{
    private const int Hidden = 16, Heads = 2, Layers = 2, Inter = 24, Image = 8, Patch = 4, Channels = 3, Labels = 5;
    private const int Side = Image / Patch, Patches = Side * Side, PatchLen = Channels * Patch * Patch;

    protected abstract IBackend Backend { get; }

    private static string Config(string extra = "") => $$"""
        {"model_type": "vit", "hidden_size": {{Hidden}}, "num_hidden_layers": {{Layers}}, "num_attention_heads": {{Heads}},
         "intermediate_size": {{Inter}}, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "image_size": {{Image}},
         "patch_size": {{Patch}}, "num_channels": {{Channels}}, "qkv_bias": true,
         "id2label": {"0": "a", "1": "b", "2": "c", "3": "d", "4": "e"}{{extra}}}
        """;

    private static TinyCheckpoint Build(int seed, bool zeroPositions = false, bool classifier = true)
    {
        var c = new TinyCheckpoint(seed);
        string p = classifier ? "vit." : "";
        c.Add(p + "embeddings.cls_token", 0.5f, 1, 1, Hidden);
        c.Add(p + "embeddings.position_embeddings", zeroPositions ? 0 : 0.5f, 1, Patches + 1, Hidden);
        c.Add(p + "embeddings.patch_embeddings.projection.weight", 0.3f, Hidden, Channels, Patch, Patch);
        c.Add(p + "embeddings.patch_embeddings.projection.bias", 0.1f, Hidden);
        for (int l = 0; l < Layers; l++)
        {
            string s = $"{p}encoder.layer.{l}.";
            foreach (string n in new[] { "query", "key", "value" })
            {
                c.Add(s + "attention.attention." + n + ".weight", 0.4f, Hidden, Hidden);
                c.Add(s + "attention.attention." + n + ".bias", 0.1f, Hidden);
            }

            c.Add(s + "attention.output.dense.weight", 0.3f, Hidden, Hidden);
            c.Add(s + "attention.output.dense.bias", 0.1f, Hidden);
            c.Add(s + "intermediate.dense.weight", 0.3f, Inter, Hidden);
            c.Add(s + "intermediate.dense.bias", 0.1f, Inter);
            c.Add(s + "output.dense.weight", 0.3f, Hidden, Inter);
            c.Add(s + "output.dense.bias", 0.1f, Hidden);
            c.AddNorm(s + "layernorm_before", Hidden);
            c.AddNorm(s + "layernorm_after", Hidden);
        }

        c.AddNorm(p + "layernorm", Hidden);
        if (classifier)
        {
            c.Add("classifier.weight", 0.3f, Labels, Hidden);
            c.Add("classifier.bias", 0.1f, Labels);
        }
        else
        {
            c.Add("pooler.dense.weight", 0.3f, Hidden, Hidden);
            c.Add("pooler.dense.bias", 0.1f, Hidden);
        }

        c.Write(Config());
        return c;
    }

    private static HostTensor Pixels(int batch, int seed)
    {
        var r = new Random(seed);
        var data = new float[batch * Channels * Image * Image];
        for (int i = 0; i < data.Length; i++) data[i] = (float)((r.NextDouble() * 2) - 1);
        return HostTensor.FromArray(data, batch, Channels, Image, Image);
    }

    /// <summary>The patch vectors [batch, patches, C·P·P] in (c, i, j) order, patches row-major over the image.</summary>
    private static double[][,] Unfold(float[] px, int batch)
    {
        var result = new double[batch][,];
        for (int b = 0; b < batch; b++)
        {
            var u = new double[Patches, PatchLen];
            for (int py = 0; py < Side; py++)
            {
                for (int pxi = 0; pxi < Side; pxi++)
                {
                    for (int c = 0; c < Channels; c++)
                    {
                        for (int i = 0; i < Patch; i++)
                        {
                            for (int j = 0; j < Patch; j++)
                            {
                                u[(py * Side) + pxi, (c * Patch * Patch) + (i * Patch) + j] =
                                    px[(((b * Channels) + c) * Image * Image) + (((py * Patch) + i) * Image) + (pxi * Patch) + j];
                            }
                        }
                    }
                }
            }

            result[b] = u;
        }

        return result;
    }

    /// <summary>The whole classifier in plain loops, from the checkpoint tensors.</summary>
    private static double[,] NaiveLogits(TinyCheckpoint c, float[] px, int batch, out double[][,] hidden)
    {
        var logits = new double[batch, Labels];
        hidden = new double[batch][,];
        var u = Unfold(px, batch);
        for (int b = 0; b < batch; b++)
        {
            var patches = Naive.Linear(u[b], c.Get("vit.embeddings.patch_embeddings.projection.weight"), c.Get("vit.embeddings.patch_embeddings.projection.bias"), Hidden);
            var cls = c.Get("vit.embeddings.cls_token");
            var pos = c.Get("vit.embeddings.position_embeddings");
            var h = new double[Patches + 1, Hidden];
            for (int t = 0; t <= Patches; t++)
            {
                for (int k = 0; k < Hidden; k++) h[t, k] = (t == 0 ? cls[k] : patches[t - 1, k]) + pos[(t * Hidden) + k];
            }

            for (int l = 0; l < Layers; l++)
            {
                string s = $"vit.encoder.layer.{l}.";
                var x = Naive.LayerNorm(h, c.Get(s + "layernorm_before.weight"), c.Get(s + "layernorm_before.bias"), 1e-12);
                var q = Naive.Linear(x, c.Get(s + "attention.attention.query.weight"), c.Get(s + "attention.attention.query.bias"), Hidden);
                var k = Naive.Linear(x, c.Get(s + "attention.attention.key.weight"), c.Get(s + "attention.attention.key.bias"), Hidden);
                var v = Naive.Linear(x, c.Get(s + "attention.attention.value.weight"), c.Get(s + "attention.attention.value.bias"), Hidden);
                var a = Naive.Linear(Naive.Attention(q, k, v, Heads), c.Get(s + "attention.output.dense.weight"), c.Get(s + "attention.output.dense.bias"), Hidden);
                h = Naive.Add(h, a);
                x = Naive.LayerNorm(h, c.Get(s + "layernorm_after.weight"), c.Get(s + "layernorm_after.bias"), 1e-12);
                var f = Naive.Map(Naive.Linear(x, c.Get(s + "intermediate.dense.weight"), c.Get(s + "intermediate.dense.bias"), Inter), Naive.Gelu);
                h = Naive.Add(h, Naive.Linear(f, c.Get(s + "output.dense.weight"), c.Get(s + "output.dense.bias"), Hidden));
            }

            h = Naive.LayerNorm(h, c.Get("vit.layernorm.weight"), c.Get("vit.layernorm.bias"), 1e-12);
            hidden[b] = h;
            var first = new double[1, Hidden];
            for (int k = 0; k < Hidden; k++) first[0, k] = h[0, k];
            var y = Naive.Linear(first, c.Get("classifier.weight"), c.Get("classifier.bias"), Labels);
            for (int o = 0; o < Labels; o++) logits[b, o] = y[0, o];
        }

        return logits;
    }

    private HostTensor RunLogits(IPretrainedModel model, HostTensor pixels)
    {
        var g = model.TraceForward();
        return Output(g, Run(Backend, g, new Dictionary<string, HostTensor> { ["pixel_values"] = pixels }), "logits");
    }

    [Fact]
    public void Patch_embedding_equals_unfold_then_matmul()
    {
        using var c = Build(1);
        var model = Assert.IsType<VitForImageClassification>(ModelRegistry.Load(c.Dir));
        var pe = model.Vit.Embeddings.PatchEmbeddings;
        var g = Tracer.Trace(pe, new TraceInput("x", DType.F32, 2, Channels, Image, Image));
        var px = Pixels(2, 7);
        var got = Backend.Compile(g, CompileOptions.Default).Run([px])[0];
        Assert.Equal([2, Patches, Hidden], got.Shape);
        var u = Unfold(px.ToFloat32(), 2);
        var w = c.Get("vit.embeddings.patch_embeddings.projection.weight");
        var bias = c.Get("vit.embeddings.patch_embeddings.projection.bias");
        var actual = got.ToFloat32();
        for (int b = 0; b < 2; b++)
        {
            var want = Naive.Linear(u[b], w, bias, Hidden);
            for (int p = 0; p < Patches; p++)
            {
                for (int h = 0; h < Hidden; h++) Assert.Equal(want[p, h], actual[(((b * Patches) + p) * Hidden) + h], 4);
            }
        }
    }

    [Fact]
    public void Classifier_matches_a_plain_loop_forward()
    {
        using var c = Build(2);
        var model = ModelRegistry.Load(c.Dir);
        var px = Pixels(2, 3);
        var logits = RunLogits(model, px);
        Assert.Equal([2, Labels], logits.Shape);
        var want = NaiveLogits(c, px.ToFloat32(), 2, out _);
        var got = logits.ToFloat32();
        for (int b = 0; b < 2; b++)
        {
            for (int o = 0; o < Labels; o++) Assert.True(Math.Abs(want[b, o] - got[(b * Labels) + o]) <= 1e-4, $"logit [{b},{o}]: {want[b, o]} vs {got[(b * Labels) + o]}");
        }
    }

    [Fact]
    public void Logits_read_only_the_cls_state_of_the_base_model()
    {
        using var c = Build(3);
        var cls = Assert.IsType<VitForImageClassification>(ModelRegistry.Load(c.Dir));
        var baseModel = VitModel.Load(cls.Config, Runtime.Weights.SafeTensors.SafeTensorsCheckpoint.Open(c.Dir));
        Assert.Null(baseModel.Pooler);
        var px = Pixels(2, 4);
        var g = baseModel.TraceForward();
        var h = Output(g, Run(Backend, g, new Dictionary<string, HostTensor> { ["pixel_values"] = px }), "last_hidden_state");
        Assert.Equal([2, Patches + 1, Hidden], h.Shape);
        var hv = h.ToFloat32();
        var logits = RunLogits(cls, px).ToFloat32();
        var w = c.Get("classifier.weight");
        var b = c.Get("classifier.bias");
        for (int n = 0; n < 2; n++)
        {
            for (int o = 0; o < Labels; o++)
            {
                double s = b[o];
                for (int k = 0; k < Hidden; k++) s += w[(o * Hidden) + k] * hv[(n * (Patches + 1) * Hidden) + k];
                Assert.Equal(s, logits[(n * Labels) + o], 4);
            }
        }
    }

    [Fact]
    public void Without_position_embeddings_permuting_patches_permutes_states_and_keeps_logits()
    {
        using var c = Build(4, zeroPositions: true);
        var cls = Assert.IsType<VitForImageClassification>(ModelRegistry.Load(c.Dir));
        var baseModel = VitModel.Load(cls.Config, Runtime.Weights.SafeTensors.SafeTensorsCheckpoint.Open(c.Dir));
        int[] perm = [2, 0, 3, 1];
        var px = Pixels(1, 5);
        var src = px.ToFloat32();
        var moved = new float[src.Length];
        for (int p = 0; p < Patches; p++)
        {
            int from = perm[p];
            for (int ch = 0; ch < Channels; ch++)
            {
                for (int i = 0; i < Patch; i++)
                {
                    for (int j = 0; j < Patch; j++)
                    {
                        int To(int patch) => (ch * Image * Image) + ((((patch / Side) * Patch) + i) * Image) + ((patch % Side) * Patch) + j;
                        moved[To(p)] = src[To(from)];
                    }
                }
            }
        }

        var pxMoved = HostTensor.FromArray(moved, 1, Channels, Image, Image);
        var l0 = RunLogits(cls, px).ToFloat32();
        var l1 = RunLogits(cls, pxMoved).ToFloat32();
        for (int o = 0; o < Labels; o++) Assert.Equal(l0[o], l1[o], 4);
        Assert.NotEqual(l0, RunLogits(cls, Pixels(1, 6)).ToFloat32());

        var g = baseModel.TraceForward();
        var h0 = Output(g, Run(Backend, g, new Dictionary<string, HostTensor> { ["pixel_values"] = px }), "last_hidden_state").ToFloat32();
        var h1 = Output(g, Run(Backend, g, new Dictionary<string, HostTensor> { ["pixel_values"] = pxMoved }), "last_hidden_state").ToFloat32();
        for (int p = 0; p < Patches; p++)
        {
            for (int k = 0; k < Hidden; k++) Assert.Equal(h0[((1 + perm[p]) * Hidden) + k], h1[((1 + p) * Hidden) + k], 4);
        }
    }

    [Fact]
    public void Base_checkpoint_loads_as_ViTModel_with_pooler()
    {
        using var c = Build(5, classifier: false);
        var model = Assert.IsType<VitModel>(ModelRegistry.Load(c.Dir));
        Assert.NotNull(model.Pooler);
        var g = model.TraceForward();
        Assert.Equal(["last_hidden_state", "pooler_output"], g.OutputNames.ToArray());
        var outs = Run(Backend, g, new Dictionary<string, HostTensor> { ["pixel_values"] = Pixels(3, 1) });
        Assert.Equal([3, Patches + 1, Hidden], Output(g, outs, "last_hidden_state").Shape);
        Assert.Equal([3, Hidden], Output(g, outs, "pooler_output").Shape);
    }

    [Fact]
    public void Mis_shaped_or_missing_tensors_are_named()
    {
        using var c = Build(6);
        c.Add("vit.embeddings.cls_token", 1, 1, 1, Hidden + 1);
        c.Tensors.Remove("vit.layernorm.bias");
        c.Write(Config());
        // The state dict's report, joined into one line naming the config.
        var e = Assert.Throws<InvalidDataException>(() => ModelRegistry.Load(c.Dir));
        Assert.IsType<StateDictException>(e.InnerException);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("vit.embeddings.cls_token", e.Message, StringComparison.Ordinal);
        Assert.Contains($"[1, 1, {Hidden + 1}]", e.Message, StringComparison.Ordinal);
        Assert.Contains($"[1, 1, {Hidden}]", e.Message, StringComparison.Ordinal);
        Assert.Contains("vit.layernorm.bias", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_image_size_is_rejected_with_both_sizes()
    {
        using var c = Build(7);
        var model = Assert.IsType<VitForImageClassification>(ModelRegistry.Load(c.Dir));
        var e = Assert.Throws<ArgumentException>(() => Tracer.Trace(model.Forward, new TraceInput("pixel_values", DType.F32, 1, Channels, Image * 2, Image)));
        Assert.Contains($"{Image * 2}×{Image}", e.Message, StringComparison.Ordinal);
    }
}

public sealed class ReferenceVitTests : VitTests
{
    protected override IBackend Backend => EncoderTestKit.ReferenceBackendInstance;
}
