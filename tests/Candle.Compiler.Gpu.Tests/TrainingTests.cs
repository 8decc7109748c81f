using Candle.Tests;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// Compiled train steps on a CUDA device (forward, backward, optimizer) reproduce PyTorch's loss curves of the
/// reference models (train.json: the loss before each step, then after the last), as the CPU does.
/// </summary>
public class TrainingTests
{
    [CudaTheory]
    [InlineData("gpt2", "adamw")]
    [InlineData("gpt2", "sgd")]
    [InlineData("llama", "adamw")]
    [InlineData("llama", "sgd")]
    public void LossCurveMatchesPyTorchOnCuda(string name, string optimizer) => LossCurves.Check(name, optimizer, GpuBackends.Cuda);
}
