using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Bert;

/// <summary>
/// A BERT encoder with its pooler and a linear classifier on the pooled output (transformers'
/// BertForSequenceClassification): logits = classifier(dropout(pooler_output)). Traced inputs: <c>input_ids</c>,
/// <c>attention_mask</c>, <c>token_type_ids</c> [batch, seq] int64; output: <c>logits</c> [batch, num_labels].
/// </summary>
public sealed class BertForSequenceClassification : Module, IPretrainedModel
{
    /// <summary>Creates a model with freshly initialized weights.</summary>
    /// <exception cref="InvalidDataException">The config has no labels.</exception>
    public BertForSequenceClassification(BertConfig config, DType dtype = DType.F32, HfConfig? hfConfig = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.RequireLabels(hfConfig?.Path ?? nameof(BertConfig), "BertForSequenceClassification");
        Bert = RegisterModule("bert", new BertModel(config, addPoolingLayer: true, dtype, hfConfig));
        Dropout = RegisterModule("dropout", new Dropout(config.ClassifierDropout));
        Classifier = RegisterModule("classifier", new Linear(config.HiddenSize, config.NumLabels, true, dtype));
        ProblemType = config.ProblemType;
    }

    /// <summary>bert (with its pooler).</summary>
    public BertModel Bert { get; }

    /// <summary>dropout (the identity: modules have no training mode).</summary>
    public Dropout Dropout { get; }

    /// <summary>classifier [num_labels, hidden].</summary>
    public Linear Classifier { get; }

    /// <summary>The number of labels.</summary>
    public int NumLabels => Bert.Settings.NumLabels;

    /// <summary>
    /// The loss given labels (one of <see cref="BertProblemType"/>'s names), or null until labels decide it. As
    /// transformers records the choice in <c>config.problem_type</c> on the first forward with labels,
    /// <see cref="Training.TrainingObjective.Prepare"/> sets it from the first batch's labels.
    /// </summary>
    public string? ProblemType
    {
        get;
        set => field = value is null || BertProblemType.All.Contains(value, StringComparer.Ordinal)
            ? value
            : throw new ArgumentException($"problem_type '{value}' is not one of {string.Join(", ", BertProblemType.All)}", nameof(value));
    }

    /// <inheritdoc/>
    public HfConfig Config => Bert.Config;

    /// <inheritdoc/>
    public string ModelType => "bert";

    /// <summary>Builds the classifier from a checkpoint with <c>bert.*</c> (pooler included) and <c>classifier.*</c> tensors.</summary>
    /// <exception cref="StateDictException">A tensor is missing or mis-shaped; the message names it and both shapes.</exception>
    public static BertForSequenceClassification Load(HfConfig config, ISafeTensorsSource weights, ModelLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        options ??= ModelLoadOptions.Default;
        var settings = BertConfig.FromHf(config);
        var lookup = BertArchitectures.CheckLayers(config, weights, settings, options);
        BertForSequenceClassification model;
        using (Init.SkipInit()) model = new BertForSequenceClassification(settings, options.DType, config);
        model.LoadStateDict(lookup.Get, strict: true, castFloats: true);
        return model;
    }

    /// <summary>Logits [batch, num_labels] of [batch, seq] ids, attention mask (1 attend, 0 padding) and token types.</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null)
    {
        var (_, pooled) = Bert.Forward(inputIds, attentionMask, tokenTypeIds);
        return Classifier.Forward(Dropout.Forward(pooled!));
    }

    /// <inheritdoc/>
    public Graph TraceForward() =>
        Tracer.Trace(this, xs => [Forward(xs[0], xs[1], xs[2])], BertArchitectures.TextInputs, ["logits"]);

    /// <inheritdoc/>
    public HostTensor? DefaultInput(string name, IReadOnlyDictionary<string, HostTensor> given) => Bert.DefaultInput(name, given);
}
