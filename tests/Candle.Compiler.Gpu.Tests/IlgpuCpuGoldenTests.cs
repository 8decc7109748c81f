namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// The reference models of tests/fixtures/refs (random-weight llama and gpt2, float32) through ILGPU's CPU accelerator,
/// which runs the GPU backend's kernels and plans without a device: transformers' logits, its greedy continuation
/// through the growing-cache decode step, and through the fixed-size-cache decode step the CUDA graph path uses.
/// </summary>
public class IlgpuCpuGoldenTests
{
    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void LogitsMatchTransformers(string name) => CudaGoldenTests.CheckLogits(name, GpuBackends.IlgpuCpu);

    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void GreedyContinuationMatchesTransformers(string name) => CudaGoldenTests.CheckGreedy(name, GpuBackends.IlgpuCpu);

    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void GreedyContinuationThroughTheFixedSizeCacheStepMatchesTransformers(string name) =>
        CudaGoldenTests.CheckStaticGreedy(name, GpuBackends.IlgpuCpu, graphs: false);
}
