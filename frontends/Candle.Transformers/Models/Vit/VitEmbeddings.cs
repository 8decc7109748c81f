using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Vit;

/// <summary>The [CLS] token followed by the patch embeddings, plus learned position embeddings (transformers' ViTEmbeddings).</summary>
public sealed class VitEmbeddings : Module<Tensor, Tensor>
{
    /// <summary>Creates the layer.</summary>
    public VitEmbeddings(VitConfig config, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(config);
        ClsToken = RegisterParameter("cls_token", Init.Constant(dtype, 0.0, 1, 1, config.HiddenSize));
        PositionEmbeddings = RegisterParameter("position_embeddings", Init.Normal(dtype, 0, 0.02, 1, config.NumPatches + 1, config.HiddenSize));
        PatchEmbeddings = RegisterModule("patch_embeddings", new VitPatchEmbeddings(config, dtype));
    }

    /// <summary>cls_token [1, 1, hidden].</summary>
    public Parameter ClsToken { get; }

    /// <summary>position_embeddings [1, patches + 1, hidden].</summary>
    public Parameter PositionEmbeddings { get; }

    /// <summary>patch_embeddings.</summary>
    public VitPatchEmbeddings PatchEmbeddings { get; }

    /// <summary>[batch, channels, image, image] → [batch, patches + 1, hidden].</summary>
    public override Tensor Forward(Tensor input)
    {
        var patches = PatchEmbeddings.Forward(input);
        var cls = ClsToken.Expand(patches.Shape[0], 1, ClsToken.Shape[2]);
        return Tensors.Cat([cls, patches], 1) + PositionEmbeddings;
    }
}
