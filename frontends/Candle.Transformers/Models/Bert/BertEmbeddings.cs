using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Bert;

/// <summary>Word, absolute position and token type embeddings, summed, then layer norm (transformers' BertEmbeddings).</summary>
public sealed class BertEmbeddings : Module
{
    /// <summary>Creates the embeddings of <paramref name="config"/>.</summary>
    public BertEmbeddings(BertConfig config, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(config);
        WordEmbeddings = RegisterModule("word_embeddings", new Embedding(config.VocabSize, config.HiddenSize, dtype));
        PositionEmbeddings = RegisterModule("position_embeddings", new Embedding(config.MaxPositionEmbeddings, config.HiddenSize, dtype));
        TokenTypeEmbeddings = RegisterModule("token_type_embeddings", new Embedding(config.TypeVocabSize, config.HiddenSize, dtype));
        LayerNorm = RegisterModule("LayerNorm", new LayerNorm(config.HiddenSize, config.LayerNormEps, dtype: dtype));
    }

    /// <summary>word_embeddings.</summary>
    public Embedding WordEmbeddings { get; }

    /// <summary>position_embeddings.</summary>
    public Embedding PositionEmbeddings { get; }

    /// <summary>token_type_embeddings.</summary>
    public Embedding TokenTypeEmbeddings { get; }

    /// <summary>LayerNorm.</summary>
    public LayerNorm LayerNorm { get; }

    /// <summary>Embeds [batch, seq] ids and token types; positions are 0..seq−1.</summary>
    public Tensor Forward(Tensor inputIds, Tensor tokenTypeIds)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        ArgumentNullException.ThrowIfNull(tokenTypeIds);
        var seq = inputIds.Shape[1];
        var positions = PositionEmbeddings.Weight.Narrow(0, 0, seq);
        var x = WordEmbeddings.Forward(inputIds) + TokenTypeEmbeddings.Forward(tokenTypeIds) + positions;
        return LayerNorm.Forward(x);
    }
}
