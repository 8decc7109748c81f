using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Common;

/// <summary>
/// The gated MLP of Llama-family models: down(act(gate(x)) · up(x)) — SwiGLU with silu, GeGLU with gelu — from
/// <c>gate_proj</c>, <c>up_proj</c>, <c>down_proj</c>, or from one fused <c>gate_up_proj</c> (Phi-3) whose first half
/// of outputs is the gate.
/// </summary>
public sealed class GatedMlp : Module<Tensor, Tensor>
{
    private readonly Func<Tensor, Tensor> _act;

    /// <summary>Reads the projections under <paramref name="prefix"/>.</summary>
    public GatedMlp(CheckpointWeights weights, string prefix, int hidden, int intermediate, string activation, bool bias, bool fused)
    {
        _act = Activations.Get(activation);
        IntermediateSize = intermediate;
        if (fused)
        {
            GateUpProj = RegisterModule("gate_up_proj", new LinearLayer(weights, prefix + ".gate_up_proj", hidden, 2 * intermediate, bias));
        }
        else
        {
            GateProj = RegisterModule("gate_proj", new LinearLayer(weights, prefix + ".gate_proj", hidden, intermediate, bias));
            UpProj = RegisterModule("up_proj", new LinearLayer(weights, prefix + ".up_proj", hidden, intermediate, bias));
        }

        DownProj = RegisterModule("down_proj", new LinearLayer(weights, prefix + ".down_proj", intermediate, hidden, bias));
    }

    /// <summary>The MLP width.</summary>
    public int IntermediateSize { get; }

    /// <summary>The gate projection (separate form).</summary>
    public LinearLayer? GateProj { get; }

    /// <summary>The up projection (separate form).</summary>
    public LinearLayer? UpProj { get; }

    /// <summary>The fused gate and up projection (Phi-3 form).</summary>
    public LinearLayer? GateUpProj { get; }

    /// <summary>The down projection.</summary>
    public LinearLayer DownProj { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        Tensor gate, up;
        if (GateUpProj is not null)
        {
            var both = GateUpProj.Forward(input);
            gate = both.Narrow(-1, 0, IntermediateSize);
            up = both.Narrow(-1, IntermediateSize, IntermediateSize);
        }
        else
        {
            gate = GateProj!.Forward(input);
            up = UpProj!.Forward(input);
        }

        return DownProj.Forward(_act(gate) * up);
    }
}
