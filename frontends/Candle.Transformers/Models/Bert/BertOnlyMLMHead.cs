using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Bert;

/// <summary>The <c>cls</c> module of BertForMaskedLM (transformers' BertOnlyMLMHead): its <c>predictions</c> head.</summary>
public sealed class BertOnlyMLMHead : Module
{
    /// <summary>Creates the head; <paramref name="tiedWeight"/> as <see cref="BertLMPredictionHead"/>.</summary>
    public BertOnlyMLMHead(BertConfig config, Parameter? tiedWeight, DType dtype = DType.F32) =>
        Predictions = RegisterModule("predictions", new BertLMPredictionHead(config, tiedWeight, dtype));

    /// <summary>predictions.</summary>
    public BertLMPredictionHead Predictions { get; }

    /// <summary>Logits [..., vocab] of [..., hidden] states.</summary>
    public Tensor Forward(Tensor hidden) => Predictions.Forward(hidden);
}
