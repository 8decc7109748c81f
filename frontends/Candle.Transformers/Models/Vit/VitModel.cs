using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Torch;
using Candle.Torch.Nn;
using Candle.Transformers.Models.Bert;

namespace Candle.Transformers.Models.Vit;

/// <summary>
/// The Vision Transformer encoder with its final layer norm and optional pooler (transformers' ViTModel). Traced input:
/// <c>pixel_values</c> [batch, channels, image, image]; outputs: <c>last_hidden_state</c> [batch, patches + 1, hidden]
/// and, with a pooler, <c>pooler_output</c>.
/// </summary>
public sealed class VitModel : Module, IPretrainedModel
{
    /// <summary>Creates a model with freshly initialized weights.</summary>
    public VitModel(VitConfig config, bool addPoolingLayer = true, DType dtype = DType.F32, HfConfig? hfConfig = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Settings = config;
        DType = dtype;
        Config = hfConfig ?? HfConfig.Parse("{\"model_type\":\"vit\"}");
        Embeddings = RegisterModule("embeddings", new VitEmbeddings(config, dtype));
        Encoder = RegisterModule("encoder", new VitEncoder(config, dtype));
        Layernorm = RegisterModule("layernorm", new LayerNorm(config.HiddenSize, config.LayerNormEps, dtype: dtype));
        if (addPoolingLayer) Pooler = RegisterModule("pooler", new VitPooler(config, dtype));
    }

    /// <summary>The typed settings.</summary>
    public VitConfig Settings { get; }

    /// <summary>The dtype the model computes in.</summary>
    public DType DType { get; }

    /// <inheritdoc/>
    public HfConfig Config { get; }

    /// <inheritdoc/>
    public string ModelType => "vit";

    /// <summary>embeddings.</summary>
    public VitEmbeddings Embeddings { get; }

    /// <summary>encoder.</summary>
    public VitEncoder Encoder { get; }

    /// <summary>layernorm (after the last layer).</summary>
    public LayerNorm Layernorm { get; }

    /// <summary>pooler, or null.</summary>
    public VitPooler? Pooler { get; }

    /// <summary>Builds a ViTModel from a checkpoint (a ViTModel's, or the <c>vit.</c> part of a task model's).</summary>
    /// <exception cref="StateDictException">A tensor is missing or mis-shaped; the message names it and both shapes.</exception>
    public static VitModel Load(HfConfig config, ISafeTensorsSource weights, ModelLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        options ??= ModelLoadOptions.Default;
        var lookup = new CheckpointLookup(weights, "embeddings.cls_token", "", "vit.");
        VitModel model;
        var settings = VitConfig.FromHf(config);
        Common.CheckpointLayers.Check(config.Path, "num_hidden_layers", settings.NumHiddenLayers,
            i => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"encoder.layer.{i}.layernorm_before.weight"), lookup.Contains, options.AllowUnusedTensors);
        using (Init.SkipInit()) model = new VitModel(settings, lookup.Contains("pooler.dense.weight"), options.DType, config);
        model.LoadStateDict(lookup.Get, strict: true, castFloats: true);
        return model;
    }

    /// <summary>The forward pass on [batch, channels, image, image] pixels.</summary>
    public (Tensor LastHiddenState, Tensor? PoolerOutput) Forward(Tensor pixelValues)
    {
        var h = Layernorm.Forward(Encoder.Forward(Embeddings.Forward(pixelValues)));
        return (h, Pooler?.Forward(h));
    }

    /// <inheritdoc/>
    public Graph TraceForward()
    {
        string[] names = Pooler is null ? ["last_hidden_state"] : ["last_hidden_state", "pooler_output"];
        return Tracer.Trace(this, xs =>
        {
            var (h, p) = Forward(xs[0]);
            return p is null ? [h] : [h, p];
        }, [PixelValues(Settings, DType)], names);
    }

    /// <inheritdoc/>
    public HostTensor? DefaultInput(string name, IReadOnlyDictionary<string, HostTensor> given) => null;

    internal static TraceInput PixelValues(VitConfig c, DType dtype) => new("pixel_values", dtype, "batch", c.NumChannels, c.ImageSize, c.ImageSize);
}
