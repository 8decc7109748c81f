using Candle.Compiler.Backends;
using Candle.Tests;

namespace Candle.Transformers.Tests;

/// <summary>
/// Ten compiled train steps on the reference batch reproduce PyTorch's loss curves (train.json: the loss before each
/// step, then after the last) for AdamW(lr=1e-3, wd=0.01) and SGD(lr=1e-2, momentum=0.9), to 1e-4 relative per step.
/// </summary>
public class TrainingTests
{
    [Theory]
    [InlineData("gpt2", "adamw")]
    [InlineData("gpt2", "sgd")]
    [InlineData("llama", "adamw")]
    [InlineData("llama", "sgd")]
    public void LossCurveMatchesPyTorch(string name, string optimizer) => LossCurves.Check(name, optimizer, BackendRegistry.Get("cpu"));
}
