namespace Candle.Compiler.Autodiff;

/// <summary>torch.optim.AdamW: Adam with decoupled weight decay (PyTorch's default decay 0.01).</summary>
public sealed class AdamW : Adam
{
    /// <summary>Creates AdamW with PyTorch's defaults.</summary>
    public AdamW(double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0.01)
        : base(learningRate, beta1, beta2, eps, weightDecay, decoupled: true)
    {
    }
}
