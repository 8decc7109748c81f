using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.Gguf;
using CsCheck;

namespace Candle.Runtime.Tests.Gguf;

public sealed class LlamaMappingTests : IDisposable
{
    private readonly GgufTempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("token_embd.weight", "model.embed_tokens.weight")]
    [InlineData("output_norm.weight", "model.norm.weight")]
    [InlineData("output.weight", "lm_head.weight")]
    [InlineData("blk.0.attn_norm.weight", "model.layers.0.input_layernorm.weight")]
    [InlineData("blk.12.attn_q.weight", "model.layers.12.self_attn.q_proj.weight")]
    [InlineData("blk.1.attn_k.bias", "model.layers.1.self_attn.k_proj.bias")]
    [InlineData("blk.1.attn_v.weight", "model.layers.1.self_attn.v_proj.weight")]
    [InlineData("blk.3.attn_output.weight", "model.layers.3.self_attn.o_proj.weight")]
    [InlineData("blk.0.ffn_norm.weight", "model.layers.0.post_attention_layernorm.weight")]
    [InlineData("blk.0.ffn_gate.weight", "model.layers.0.mlp.gate_proj.weight")]
    [InlineData("blk.0.ffn_up.weight", "model.layers.0.mlp.up_proj.weight")]
    [InlineData("blk.0.ffn_down.weight", "model.layers.0.mlp.down_proj.weight")]
    public void NamesMapBothWays(string gguf, string hf)
    {
        Assert.True(LlamaGgufNames.TryToHuggingFace(gguf, out var h));
        Assert.Equal(hf, h);
        Assert.True(LlamaGgufNames.TryToGguf(hf, out var g));
        Assert.Equal(gguf, g);
    }

    [Theory]
    [InlineData("rope_freqs.weight")]
    [InlineData("blk.x.attn_q.weight")]
    [InlineData("blk.0.attn_rot_embd")]
    [InlineData("blk.0.unknown.weight")]
    [InlineData("weight")]
    public void UnknownNamesDoNotMap(string gguf) => Assert.False(LlamaGgufNames.TryToHuggingFace(gguf, out _));

    [Fact]
    public void PermutationMatchesTheConvertersReshapeSwapaxes()
    {
        // 2 heads of head_dim 4, 3 columns: HF row r = h*4 + s*2 + i goes to GGUF row h*4 + 2*i + s.
        var hf = Enumerable.Range(0, 8 * 3).Select(v => (float)v).ToArray();
        var gguf = LlamaRopePermutation.Permute(hf, 8, 2);
        int[] ggufRowToHfRow = [0, 2, 1, 3, 4, 6, 5, 7];
        for (int r = 0; r < 8; r++)
        {
            Assert.Equal(hf.AsSpan(ggufRowToHfRow[r] * 3, 3).ToArray(), gguf.AsSpan(r * 3, 3).ToArray());
        }

        Assert.Equal(hf, LlamaRopePermutation.Unpermute(gguf, 8, 2));
        Assert.Throws<ArgumentException>(() => LlamaRopePermutation.Unpermute(new float[6], 6, 2));
    }

    [Fact]
    public void UnpermuteInvertsPermute()
    {
        Gen.Select(Gen.Int[1, 4], Gen.Int[1, 4], Gen.Int[1, 3]).Sample((heads, halfDim, cols) =>
        {
            int rows = heads * halfDim * 2;
            var x = Enumerable.Range(0, rows * cols).Select(v => (float)v).ToArray();
            Assert.Equal(x, LlamaRopePermutation.Unpermute(LlamaRopePermutation.Permute(x, rows, heads), rows, heads));
        }, iter: 100);
    }

    [Fact]
    public void CheckpointRefusesOtherArchitecturesAndMissingHeadCounts()
    {
        string gpt2 = _dir.File("gpt2.gguf");
        new GgufWriter().Add("general.architecture", "gpt2").Write(gpt2);
        var ex = Assert.Throws<NotSupportedException>(() => GgufLlamaCheckpoint.Open(gpt2));
        Assert.Contains(gpt2, ex.Message, StringComparison.Ordinal);
        Assert.Contains("'gpt2'", ex.Message, StringComparison.Ordinal);

        string noHeads = _dir.File("noheads.gguf");
        new GgufWriter().Add("general.architecture", "llama").Write(noHeads);
        var fe = Assert.Throws<GgufFormatException>(() => GgufLlamaCheckpoint.Open(noHeads));
        Assert.Equal("llama.attention.head_count", fe.Key);
    }

    [Fact]
    public void CheckpointUnpermutesQAndKWithTheirOwnHeadCounts()
    {
        // 4 query heads and 2 key-value heads of head_dim 4, hidden 32.
        var q = HostTensor.FromArray(Enumerable.Range(0, 16 * 32).Select(v => (float)v).ToArray(), 16, 32);
        var k = HostTensor.FromArray(Enumerable.Range(0, 8 * 32).Select(v => (float)-v).ToArray(), 8, 32);
        var qPerm = HostTensor.FromArray(LlamaRopePermutation.Permute(q.ToFloat32(), 16, 4), 16, 32);
        var kPerm = HostTensor.FromArray(LlamaRopePermutation.Permute(k.ToFloat32(), 8, 2), 8, 32);
        string path = _dir.File("llama.gguf");
        new GgufWriter()
            .Add("general.architecture", "llama")
            .Add("llama.attention.head_count", 4u)
            .Add("llama.attention.head_count_kv", 2u)
            .AddTensor("blk.0.attn_q.weight", qPerm, Kernels.Quant.GgmlType.F32)
            .AddTensor("blk.0.attn_k.weight", kPerm, Kernels.Quant.GgmlType.F32)
            .AddTensor("rope_freqs.weight", HostTensor.FromArray(new float[2], 2), Kernels.Quant.GgmlType.F32)
            .Write(path);
        using var ckpt = GgufLlamaCheckpoint.Open(path);
        Assert.Equal(["model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight"], ckpt.Names);
        Assert.Equal(["rope_freqs.weight"], ckpt.UnmappedNames);
        Assert.Equal(q.ToFloat32(), ckpt.Get("model.layers.0.self_attn.q_proj.weight").ToFloat32());
        Assert.Equal(k.ToFloat32(), ckpt.Get("model.layers.0.self_attn.k_proj.weight").ToFloat32());
    }
}
