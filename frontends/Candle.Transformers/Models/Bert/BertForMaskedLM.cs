using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Bert;

/// <summary>
/// A BERT encoder without pooler and the masked-LM head (transformers' BertForMaskedLM): logits =
/// cls.predictions(last_hidden_state), the decoder tied to the word embeddings unless <c>tie_word_embeddings</c> is
/// false. Traced inputs: <c>input_ids</c>, <c>attention_mask</c>, <c>token_type_ids</c> [batch, seq] int64; output:
/// <c>logits</c> [batch, seq, vocab].
/// </summary>
public sealed class BertForMaskedLM : Module, IPretrainedModel
{
    /// <summary>Creates a model with freshly initialized weights.</summary>
    public BertForMaskedLM(BertConfig config, DType dtype = DType.F32, HfConfig? hfConfig = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        Bert = RegisterModule("bert", new BertModel(config, addPoolingLayer: false, dtype, hfConfig));
        Cls = RegisterModule("cls", new BertOnlyMLMHead(config, config.TieWordEmbeddings ? Bert.Embeddings.WordEmbeddings.Weight : null, dtype));
    }

    /// <summary>bert (without pooler).</summary>
    public BertModel Bert { get; }

    /// <summary>cls.</summary>
    public BertOnlyMLMHead Cls { get; }

    /// <inheritdoc/>
    public HfConfig Config => Bert.Config;

    /// <inheritdoc/>
    public string ModelType => "bert";

    /// <summary>
    /// Builds the model from a checkpoint with <c>bert.*</c> and <c>cls.predictions.*</c> tensors. A tied decoder's
    /// <c>cls.predictions.decoder.weight</c> and the <c>cls.predictions.decoder.bias</c> transformers may save beside
    /// <c>cls.predictions.bias</c> are the same tensors and are not read again; the bias is taken from
    /// <c>cls.predictions.decoder.bias</c> when only that one is saved.
    /// </summary>
    /// <exception cref="StateDictException">A tensor is missing or mis-shaped; the message names it and both shapes.</exception>
    public static BertForMaskedLM Load(HfConfig config, ISafeTensorsSource weights, ModelLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        options ??= ModelLoadOptions.Default;
        var settings = BertConfig.FromHf(config);
        var lookup = BertArchitectures.CheckLayers(config, weights, settings, options);
        BertForMaskedLM model;
        using (Init.SkipInit()) model = new BertForMaskedLM(settings, options.DType, config);
        const string Bias = "cls.predictions.bias", DecoderBias = "cls.predictions.decoder.bias", DecoderWeight = "cls.predictions.decoder.weight";
        model.LoadStateDict(n => n == Bias && !lookup.Contains(Bias) ? lookup.Get(DecoderBias) : lookup.Get(n), strict: true, castFloats: true);
        // The aliases of tied tensors: read so that the checkpoint counts them as used.
        if (lookup.Contains(Bias) && lookup.Contains(DecoderBias)) lookup.Get(DecoderBias);
        if (settings.TieWordEmbeddings && lookup.Contains(DecoderWeight)) lookup.Get(DecoderWeight);
        return model;
    }

    /// <summary>Logits [batch, seq, vocab] of [batch, seq] ids, attention mask and token types.</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null)
    {
        var (h, _) = Bert.Forward(inputIds, attentionMask, tokenTypeIds);
        return Cls.Forward(h);
    }

    /// <inheritdoc/>
    public Graph TraceForward() =>
        Tracer.Trace(this, xs => [Forward(xs[0], xs[1], xs[2])], BertArchitectures.TextInputs, ["logits"]);

    /// <inheritdoc/>
    public HostTensor? DefaultInput(string name, IReadOnlyDictionary<string, HostTensor> given) => Bert.DefaultInput(name, given);
}
