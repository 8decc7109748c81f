using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Vit;

/// <summary>Cuts an image into non-overlapping patches and projects each (a strided convolution; transformers' ViTPatchEmbeddings).</summary>
public sealed class VitPatchEmbeddings : Module<Tensor, Tensor>
{
    private readonly VitConfig _config;

    /// <summary>Creates the layer.</summary>
    public VitPatchEmbeddings(VitConfig config, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(config);
        _config = config;
        Projection = RegisterModule("projection", new Conv2d(config.NumChannels, config.HiddenSize, config.PatchSize, stride: config.PatchSize, dtype: dtype));
    }

    /// <summary>projection.</summary>
    public Conv2d Projection { get; }

    /// <summary>[batch, channels, image, image] → [batch, patches, hidden].</summary>
    /// <exception cref="ArgumentException">The channels or image size differ from the config.</exception>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 4) throw new ArgumentException($"pixel_values must be [batch, channels, height, width], got {input.TypeString}", nameof(input));
        if (input.Shape[1] != _config.NumChannels)
        {
            throw new ArgumentException($"pixel_values has {input.Shape[1]} channels but the config says num_channels = {_config.NumChannels}", nameof(input));
        }

        if (input.Shape[2] != _config.ImageSize || input.Shape[3] != _config.ImageSize)
        {
            throw new ArgumentException(
                $"pixel_values is {input.Shape[2]}×{input.Shape[3]} but the model takes {_config.ImageSize}×{_config.ImageSize} images", nameof(input));
        }

        return Projection.Forward(input).Flatten(2).Transpose(1, 2);
    }
}
