using System.Globalization;
using Candle.Torch;
using Candle.Torch.Nn;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Models.Gpt2;

/// <summary>The GPT-2 transformer (<c>GPT2Model</c>): token and learned position embeddings, blocks, final norm.</summary>
public sealed class Gpt2Model : Module
{
    /// <summary>Reads the transformer under <paramref name="prefix"/> (<c>transformer</c>).</summary>
    public Gpt2Model(CheckpointWeights weights, string prefix, Gpt2Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        Wte = RegisterModule("wte", new EmbeddingLayer(weights, prefix + ".wte", config.VocabSize, config.HiddenSize));
        Wpe = RegisterModule("wpe", new EmbeddingLayer(weights, prefix + ".wpe", config.MaxPositions, config.HiddenSize));
        H = RegisterModule("h", new ModuleList<Gpt2Block>(
            Enumerable.Range(0, config.NumLayers).Select(i => new Gpt2Block(weights, string.Create(CultureInfo.InvariantCulture, $"{prefix}.h.{i}"), config, i))));
        LnF = RegisterModule("ln_f", new LayerNormLayer(weights, prefix + ".ln_f", config.HiddenSize, config.LayerNormEps));
    }

    /// <summary>Token embeddings.</summary>
    public EmbeddingLayer Wte { get; }

    /// <summary>Position embeddings.</summary>
    public EmbeddingLayer Wpe { get; }

    /// <summary>The blocks.</summary>
    public ModuleList<Gpt2Block> H { get; }

    /// <summary>The final norm.</summary>
    public LayerNormLayer LnF { get; }

    /// <summary>Hidden states [batch, seq, hidden] after the final norm.</summary>
    public Tensor Forward(Tensor inputIds, Tensor positionIds, CacheStep cache)
    {
        var h = Wte.Forward(inputIds) + Wpe.Forward(positionIds);
        foreach (var block in H) h = block.Forward(h, cache);
        return LnF.Forward(h);
    }
}
