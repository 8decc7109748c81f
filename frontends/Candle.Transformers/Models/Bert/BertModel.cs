using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Bert;

/// <summary>
/// The BERT encoder with its optional pooler (transformers' BertModel). Traced inputs: <c>input_ids</c>,
/// <c>attention_mask</c>, <c>token_type_ids</c> [batch, seq] int64; outputs: <c>last_hidden_state</c>
/// [batch, seq, hidden] and, with a pooler, <c>pooler_output</c> [batch, hidden].
/// </summary>
public sealed class BertModel : Module, IPretrainedModel
{
    /// <summary>Creates a model with freshly initialized weights.</summary>
    public BertModel(BertConfig config, bool addPoolingLayer = true, DType dtype = DType.F32, HfConfig? hfConfig = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Settings = config;
        DType = dtype;
        Config = hfConfig ?? HfConfig.Parse("{\"model_type\":\"bert\"}");
        Embeddings = RegisterModule("embeddings", new BertEmbeddings(config, dtype));
        Encoder = RegisterModule("encoder", new BertEncoder(config, dtype));
        if (addPoolingLayer) Pooler = RegisterModule("pooler", new BertPooler(config.HiddenSize, dtype));
    }

    /// <summary>The typed settings.</summary>
    public BertConfig Settings { get; }

    /// <summary>The dtype the model computes in.</summary>
    public DType DType { get; }

    /// <inheritdoc/>
    public HfConfig Config { get; }

    /// <inheritdoc/>
    public string ModelType => "bert";

    /// <summary>embeddings.</summary>
    public BertEmbeddings Embeddings { get; }

    /// <summary>encoder.</summary>
    public BertEncoder Encoder { get; }

    /// <summary>pooler, or null for a model without one.</summary>
    public BertPooler? Pooler { get; }

    /// <summary>
    /// Builds a BertModel from a checkpoint (a BertModel's, or the <c>bert.</c> part of a task model's); the pooler is
    /// built when the checkpoint has one.
    /// </summary>
    /// <exception cref="StateDictException">A tensor is missing or mis-shaped; the message names it and both shapes.</exception>
    public static BertModel Load(HfConfig config, ISafeTensorsSource weights, ModelLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        options ??= ModelLoadOptions.Default;
        var lookup = new CheckpointLookup(weights, "embeddings.word_embeddings.weight", "", "bert.");
        BertModel model;
        var settings = BertConfig.FromHf(config);
        Common.CheckpointLayers.Check(config.Path, "num_hidden_layers", settings.NumHiddenLayers,
            i => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"encoder.layer.{i}.attention.self.query.weight"), lookup.Contains, options.AllowUnusedTensors);
        using (Init.SkipInit()) model = new BertModel(settings, lookup.Contains("pooler.dense.weight"), options.DType, config);
        model.LoadStateDict(lookup.Get, strict: true, castFloats: true);
        return model;
    }

    /// <summary>The forward pass on [batch, seq] ids, attention mask (1 attend, 0 padding) and token types.</summary>
    /// <returns>last_hidden_state, and pooler_output when the model has a pooler.</returns>
    public (Tensor LastHiddenState, Tensor? PoolerOutput) Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        tokenTypeIds ??= Tensors.ZerosLike(inputIds);
        var bias = attentionMask is null ? null : AttentionMasks.ExtendedPaddingBias(attentionMask, DType);
        var h = Encoder.Forward(Embeddings.Forward(inputIds, tokenTypeIds), bias);
        return (h, Pooler?.Forward(h));
    }

    /// <inheritdoc/>
    public Graph TraceForward()
    {
        var inputs = BertArchitectures.TextInputs;
        string[] names = Pooler is null ? ["last_hidden_state"] : ["last_hidden_state", "pooler_output"];
        return Tracer.Trace(this, xs =>
        {
            var (h, p) = Forward(xs[0], xs[1], xs[2]);
            return p is null ? [h] : [h, p];
        }, inputs, names);
    }

    /// <inheritdoc/>
    public HostTensor? DefaultInput(string name, IReadOnlyDictionary<string, HostTensor> given)
    {
        ArgumentNullException.ThrowIfNull(given);
        if (name is not ("attention_mask" or "token_type_ids") || !given.TryGetValue("input_ids", out var ids)) return null;
        var t = HostTensor.Zeros(DType.I64, ids.ShapeArray());
        if (name == "attention_mask") t.AsSpan<long>().Fill(1);
        return t;
    }
}
