using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Bert;

/// <summary>
/// The masked-LM head (transformers' BertLMPredictionHead, under <c>cls.predictions</c>): the transform, then the
/// decoder to the vocabulary with its own <c>bias</c>; the decoder's weight is the word embeddings' when tied, else
/// its own <c>decoder.weight</c>.
/// </summary>
public sealed class BertLMPredictionHead : Module
{
    /// <summary>Creates the head; <paramref name="tiedWeight"/> is the word embeddings' table when tied, else null.</summary>
    public BertLMPredictionHead(BertConfig config, Parameter? tiedWeight, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(config);
        Transform = RegisterModule("transform", new BertPredictionHeadTransform(config, dtype));
        DecoderWeight = tiedWeight ?? RegisterModule("decoder", new Linear(config.HiddenSize, config.VocabSize, false, dtype)).Weight;
        Bias = RegisterParameter("bias", Init.Constant(dtype, 0, config.VocabSize));
    }

    /// <summary>transform.</summary>
    public BertPredictionHeadTransform Transform { get; }

    /// <summary>The decoder's weight [vocab, hidden] (the word embeddings when tied).</summary>
    public Parameter DecoderWeight { get; }

    /// <summary>bias [vocab].</summary>
    public Parameter Bias { get; }

    /// <summary>Logits [..., vocab] of [..., hidden] states.</summary>
    public Tensor Forward(Tensor hidden) => F.Linear(Transform.Forward(hidden), DecoderWeight, Bias);
}
