using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Torch.Nn;

namespace Candle.Torch.Tests;

public class NnTests
{
    [Fact]
    public void State_dict_names_are_dotted_as_pytorch()
    {
        var m = new TinyModel(16, 8, 2);
        var names = m.StateDict().Keys.ToList();
        Assert.Equal(
        [
            "embed_tokens.weight",
            "layers.0.self_attn.q_proj.weight", "layers.0.self_attn.k_proj.weight", "layers.0.self_attn.v_proj.weight", "layers.0.self_attn.o_proj.weight",
            "layers.0.input_layernorm.weight",
            "layers.0.mlp.fc1.weight", "layers.0.mlp.fc1.bias", "layers.0.mlp.fc2.weight", "layers.0.mlp.fc2.bias",
            "layers.1.self_attn.q_proj.weight", "layers.1.self_attn.k_proj.weight", "layers.1.self_attn.v_proj.weight", "layers.1.self_attn.o_proj.weight",
            "layers.1.input_layernorm.weight",
            "layers.1.mlp.fc1.weight", "layers.1.mlp.fc1.bias", "layers.1.mlp.fc2.weight", "layers.1.mlp.fc2.bias",
            "norm.weight", "norm.bias",
        ], names);
        Assert.Equal(["inv_freq"], m.NamedBuffers().Select(b => b.Name));
        Assert.Equal(names.Count, m.NamedParameters().Count());
        Assert.Equal("layers.1.self_attn.k_proj.weight", m.Layers[1].SelfAttn.KProj.Weight.Name);
        Assert.Equal(8, m.StateDict()["layers.0.self_attn.k_proj.weight"].Size(1));
        Assert.Equal(4, m.StateDict()["layers.0.self_attn.k_proj.weight"].Size(0));
    }

    [Fact]
    public void Load_state_dict_replaces_data_and_reports_keys()
    {
        var m = new Mlp(3, 4);
        var sd = m.StateDict().ToDictionary(kv => kv.Key, kv => HostTensor.FromDoubles(kv.Value.DType, [.. Enumerable.Repeat(0.5, (int)kv.Value.Numel())], [.. kv.Value.Size().Select(d => (int)d)]));
        var r = m.LoadStateDict(sd);
        Assert.Empty(r.MissingKeys);
        Assert.Empty(r.UnexpectedKeys);
        Assert.All(m.Fc1.Weight.ToFloatArray(), v => Assert.Equal(0.5f, v));

        sd["extra.weight"] = HostTensor.FromArray([1f], 1);
        sd.Remove("fc2.bias");
        var ex = Assert.Throws<StateDictException>(() => m.LoadStateDict(sd));
        Assert.Contains("missing keys: fc2.bias", ex.Message, StringComparison.Ordinal);
        Assert.Contains("unexpected keys: extra.weight", ex.Message, StringComparison.Ordinal);
        var loose = m.LoadStateDict(sd, strict: false);
        Assert.Equal(["fc2.bias"], loose.MissingKeys);
        Assert.Equal(["extra.weight"], loose.UnexpectedKeys);
    }

    [Fact]
    public void Load_state_dict_rejects_mis_shaped_and_mistyped_tensors()
    {
        var m = new Linear(3, 2);
        var before = m.Weight.ToFloatArray();
        var bad = new Dictionary<string, HostTensor>
        {
            ["weight"] = HostTensor.Zeros(DType.F32, 3, 2),
            ["bias"] = HostTensor.Zeros(DType.F32, 2),
        };
        var ex = Assert.Throws<StateDictException>(() => m.LoadStateDict(bad));
        Assert.Contains("'weight'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[3, 2]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[2, 3]", ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, m.Weight.ToFloatArray()); // nothing was loaded

        var half = new Dictionary<string, HostTensor>
        {
            ["weight"] = HostTensor.FromArray([.. Enumerable.Repeat((Half)1.5f, 6)], 2, 3),
            ["bias"] = HostTensor.Zeros(DType.BF16, 2),
        };
        var ex2 = Assert.Throws<StateDictException>(() => m.LoadStateDict(half));
        Assert.Contains("float16", ex2.Message, StringComparison.Ordinal);
        Assert.Contains("float32", ex2.Message, StringComparison.Ordinal);
        m.LoadStateDict(half, castFloats: true);
        Assert.Equal(DType.F32, m.Weight.DType);
        Assert.All(m.Weight.ToFloatArray(), v => Assert.Equal(1.5f, v));
    }

    [Fact]
    public void Load_state_dict_through_a_lookup()
    {
        var m = new Linear(2, 1, bias: false);
        var w = HostTensor.FromArray([3f, 4f], 1, 2);
        m.LoadStateDict(n => n == "weight" ? w : null);
        Check.Close([11], m.Forward(Tensor.FromArray([1f, 2f], 1, 2)));
        Assert.Throws<StateDictException>(() => new Linear(2, 1).LoadStateDict(n => n == "weight" ? w : null));
    }

    [Fact]
    public void Module_to_dtype_converts_parameters()
    {
        var m = new Mlp(4, 8);
        m.To(DType.F16);
        Assert.All(m.Parameters(), p => Assert.Equal(DType.F16, p.DType));
        var y = m.Forward(Tensors.Ones([2, 4], DType.F16));
        Assert.Equal(DType.F16, y.DType);
    }

    [Fact]
    public void Init_is_reproducible_with_manual_seed()
    {
        Init.ManualSeed(5);
        var a = new Linear(4, 4).Weight.ToFloatArray();
        Init.ManualSeed(5);
        var b = new Linear(4, 4).Weight.ToFloatArray();
        Assert.Equal(a, b);
        Assert.All(a, v => Assert.InRange(v, -0.5f, 0.5f));
    }

    [Fact]
    public void Sequential_and_activations()
    {
        var seq = new Sequential(new Identity(), new Relu(), new Dropout(0.2), new Tanh(), new Sigmoid(), new Silu());
        var x = Tensor.FromArray([-1f, 0.5f]);
        float Sig(float v) => 1 / (1 + MathF.Exp(-v));
        float[] e = [.. new[] { 0f, 0.5f }.Select(v => { float s = Sig(MathF.Tanh(v)); return s * Sig(s); })];
        Check.Close(e, seq.Forward(x));
        Assert.Equal(6, seq.Count);
        Assert.Empty(seq.StateDict());
        var lin = new Sequential(new Linear(2, 3), new Gelu(), new Linear(3, 1));
        Assert.Equal(["0.weight", "0.bias", "2.weight", "2.bias"], lin.StateDict().Keys);
    }

    [Fact]
    public void Norm_and_conv_layers_shapes_and_defaults()
    {
        var x = Tensors.Randn([2, 4, 6], seed: 1);
        Check.Close(F.LayerNorm(x, [6]).ToFloatArray(), new LayerNorm(6).Forward(x));
        Check.Close(F.RmsNorm(x, [6], null, 1e-6).ToFloatArray(), new RmsNorm(6, 1e-6).Forward(x));
        Check.Close(F.GroupNorm(x, 2).ToFloatArray(), new GroupNorm(2, 4).Forward(x));
        Check.Shape(new Conv1d(4, 8, 3, padding: 1).Forward(x), 2, 8, 6);
        Check.Shape(new ConvTranspose1d(4, 2, 4, stride: 2, padding: 1).Forward(x), 2, 2, 12);
        var img = Tensors.Randn([1, 3, 8, 8], seed: 2);
        Check.Shape(new Conv2d(3, 5, 3, stride: 2, padding: 1).Forward(img), 1, 5, 4, 4);
        Check.Shape(new ConvTranspose2d(3, 2, 2, stride: 2).Forward(img), 1, 2, 16, 16);
        Assert.Throws<ArgumentException>(() => new GroupNorm(3, 4));
        var emb = new Embedding(10, 3);
        Check.Shape(emb.Forward(Tensor.FromArray([1L, 2L, 3L], 1, 3)), 1, 3, 3);
    }

    [Fact]
    public void Registration_rejects_duplicates_and_dots()
    {
        Assert.Throws<ArgumentException>(() => new BadModule("a.b"));
        Assert.Throws<ArgumentException>(() => new BadModule("w", twice: true));
    }

    [Fact]
    public void Loads_llama_fixture_weights_by_hugging_face_names()
    {
        using var src = Candle.Runtime.Weights.SafeTensors.SafeTensorsCheckpoint.Open(Candle.Tests.Fixtures.Model("llama"));
        var attn = new SelfAttention(256, 8, 4);
        var holder = new Holder(attn);
        var r = holder.LoadStateDict(n => src.Contains(n) ? src.Get(n) : null, strict: false, availableNames: src.Names);
        Assert.Empty(r.MissingKeys);
        Assert.Contains("model.embed_tokens.weight", r.UnexpectedKeys);
        var expected = src.Get("model.layers.0.self_attn.q_proj.weight").ToFloat32();
        Assert.Equal(expected, attn.QProj.Weight.ToFloatArray());

        var wrong = new Holder(new SelfAttention(256, 8, 8)); // k_proj would be [256, 256]
        var ex = Assert.Throws<StateDictException>(() => wrong.LoadStateDict(n => src.Contains(n) ? src.Get(n) : null, strict: false));
        Assert.Contains("model.layers.0.self_attn.k_proj.weight", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[128, 256]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[256, 256]", ex.Message, StringComparison.Ordinal);
    }

    private sealed class Holder : Module
    {
        public Holder(SelfAttention attn)
        {
            var model = RegisterModule("model", new Wrapper());
            var layers = model.Add("layers", new ModuleList<Wrapper>(new Wrapper()));
            layers[0].Add("self_attn", attn);
        }
    }

    private sealed class Wrapper : Module
    {
        public T Add<T>(string name, T m)
            where T : Module => RegisterModule(name, m);
    }

    private sealed class BadModule : Module
    {
        public BadModule(string name, bool twice = false)
        {
            RegisterParameter(name, HostTensor.Zeros(DType.F32, 1));
            if (twice) RegisterParameter(name, HostTensor.Zeros(DType.F32, 1));
        }
    }
}
