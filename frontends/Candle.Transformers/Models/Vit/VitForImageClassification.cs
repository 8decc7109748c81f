using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Torch;
using Candle.Torch.Nn;
using Candle.Transformers.Models.Bert;

namespace Candle.Transformers.Models.Vit;

/// <summary>
/// A ViT encoder (without pooler) and a linear classifier on the final [CLS] state (transformers'
/// ViTForImageClassification). Traced input: <c>pixel_values</c>; output: <c>logits</c> [batch, num_labels].
/// </summary>
public sealed class VitForImageClassification : Module, IPretrainedModel
{
    /// <summary>Creates a model with freshly initialized weights.</summary>
    public VitForImageClassification(VitConfig config, DType dtype = DType.F32, HfConfig? hfConfig = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        Vit = RegisterModule("vit", new VitModel(config, addPoolingLayer: false, dtype, hfConfig));
        if (config.NumLabels > 0) Classifier = RegisterModule("classifier", new Linear(config.HiddenSize, config.NumLabels, true, dtype));
    }

    /// <summary>vit.</summary>
    public VitModel Vit { get; }

    /// <summary>classifier, or null when num_labels is 0 (transformers' Identity).</summary>
    public Linear? Classifier { get; }

    /// <inheritdoc/>
    public HfConfig Config => Vit.Config;

    /// <inheritdoc/>
    public string ModelType => "vit";

    /// <summary>Builds the classifier from a checkpoint with <c>vit.*</c> and <c>classifier.*</c> tensors.</summary>
    /// <exception cref="StateDictException">A tensor is missing or mis-shaped; the message names it and both shapes.</exception>
    public static VitForImageClassification Load(HfConfig config, ISafeTensorsSource weights, ModelLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        options ??= ModelLoadOptions.Default;
        VitForImageClassification model;
        var settings = VitConfig.FromHf(config);
        Common.CheckpointLayers.Check(config.Path, "num_hidden_layers", settings.NumHiddenLayers,
            i => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"vit.encoder.layer.{i}.layernorm_before.weight"), weights.Contains, options.AllowUnusedTensors);
        using (Init.SkipInit()) model = new VitForImageClassification(settings, options.DType, config);
        model.LoadStateDict(n => weights.Contains(n) ? weights.Get(n) : null, strict: true, castFloats: true);
        return model;
    }

    /// <summary>Builds the classifier when the checkpoint has one, else the base ViTModel.</summary>
    public static IPretrainedModel LoadAuto(HfConfig config, ISafeTensorsSource weights, ModelLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(weights);
        return weights.Contains("classifier.weight") ? Load(config, weights, options) : VitModel.Load(config, weights, options);
    }

    /// <summary>Logits [batch, num_labels] of [batch, channels, image, image] pixels.</summary>
    public Tensor Forward(Tensor pixelValues)
    {
        var (h, _) = Vit.Forward(pixelValues);
        var cls = h.Select(1, 0);
        return Classifier is null ? cls : Classifier.Forward(cls);
    }

    /// <inheritdoc/>
    public Graph TraceForward() =>
        Tracer.Trace(this, xs => [Forward(xs[0])], [VitModel.PixelValues(Vit.Settings, Vit.DType)], ["logits"]);

    /// <inheritdoc/>
    public HostTensor? DefaultInput(string name, IReadOnlyDictionary<string, HostTensor> given) => null;
}
