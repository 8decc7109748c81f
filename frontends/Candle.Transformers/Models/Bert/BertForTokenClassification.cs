using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Bert;

/// <summary>
/// A BERT encoder without pooler and a linear classifier on every token's final state (transformers'
/// BertForTokenClassification): logits = classifier(dropout(last_hidden_state)). Traced inputs: <c>input_ids</c>,
/// <c>attention_mask</c>, <c>token_type_ids</c> [batch, seq] int64; output: <c>logits</c> [batch, seq, num_labels].
/// </summary>
public sealed class BertForTokenClassification : Module, IPretrainedModel
{
    /// <summary>Creates a model with freshly initialized weights.</summary>
    /// <exception cref="InvalidDataException">The config has no labels.</exception>
    public BertForTokenClassification(BertConfig config, DType dtype = DType.F32, HfConfig? hfConfig = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.RequireLabels(hfConfig?.Path ?? nameof(BertConfig), "BertForTokenClassification");
        Bert = RegisterModule("bert", new BertModel(config, addPoolingLayer: false, dtype, hfConfig));
        Dropout = RegisterModule("dropout", new Dropout(config.ClassifierDropout));
        Classifier = RegisterModule("classifier", new Linear(config.HiddenSize, config.NumLabels, true, dtype));
    }

    /// <summary>bert (without pooler).</summary>
    public BertModel Bert { get; }

    /// <summary>dropout (the identity: modules have no training mode).</summary>
    public Dropout Dropout { get; }

    /// <summary>classifier [num_labels, hidden].</summary>
    public Linear Classifier { get; }

    /// <summary>The number of labels.</summary>
    public int NumLabels => Bert.Settings.NumLabels;

    /// <inheritdoc/>
    public HfConfig Config => Bert.Config;

    /// <inheritdoc/>
    public string ModelType => "bert";

    /// <summary>Builds the classifier from a checkpoint with <c>bert.*</c> (no pooler) and <c>classifier.*</c> tensors.</summary>
    /// <exception cref="StateDictException">A tensor is missing or mis-shaped; the message names it and both shapes.</exception>
    public static BertForTokenClassification Load(HfConfig config, ISafeTensorsSource weights, ModelLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        options ??= ModelLoadOptions.Default;
        var settings = BertConfig.FromHf(config);
        var lookup = BertArchitectures.CheckLayers(config, weights, settings, options);
        BertForTokenClassification model;
        using (Init.SkipInit()) model = new BertForTokenClassification(settings, options.DType, config);
        model.LoadStateDict(lookup.Get, strict: true, castFloats: true);
        return model;
    }

    /// <summary>Logits [batch, seq, num_labels] of [batch, seq] ids, attention mask and token types.</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null)
    {
        var (h, _) = Bert.Forward(inputIds, attentionMask, tokenTypeIds);
        return Classifier.Forward(Dropout.Forward(h));
    }

    /// <inheritdoc/>
    public Graph TraceForward() =>
        Tracer.Trace(this, xs => [Forward(xs[0], xs[1], xs[2])], BertArchitectures.TextInputs, ["logits"]);

    /// <inheritdoc/>
    public HostTensor? DefaultInput(string name, IReadOnlyDictionary<string, HostTensor> given) => Bert.DefaultInput(name, given);
}
