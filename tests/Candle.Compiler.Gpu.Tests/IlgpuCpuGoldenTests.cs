using System.Runtime.CompilerServices;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// The reference models of tests/fixtures/refs (random-weight llama and gpt2, float32) through ILGPU's CPU accelerator,
/// which runs the GPU backend's kernels and plans without a device: transformers' logits, its greedy continuation
/// through the growing-cache decode step, and through the fixed-size-cache decode step the CUDA graph path uses. The
/// CPU accelerator emulates every thread of a group (a tiled product of the fixture takes seconds), so these run only
/// when <c>CANDLE_ILGPU_GOLDEN=1</c>.
/// </summary>
public class IlgpuCpuGoldenTests
{
    [IlgpuGoldenTheory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void LogitsMatchTransformers(string name) => CudaGoldenTests.CheckLogits(name, GpuBackends.IlgpuCpu);

    [IlgpuGoldenTheory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void GreedyContinuationMatchesTransformers(string name) => CudaGoldenTests.CheckGreedy(name, GpuBackends.IlgpuCpu);

    [IlgpuGoldenTheory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void GreedyContinuationThroughTheFixedSizeCacheStepMatchesTransformers(string name) =>
        CudaGoldenTests.CheckStaticGreedy(name, GpuBackends.IlgpuCpu, graphs: false);
}

/// <summary>A theory that runs only when <c>CANDLE_ILGPU_GOLDEN=1</c> (whole models on ILGPU's CPU accelerator take many minutes).</summary>
public sealed class IlgpuGoldenTheoryAttribute : TheoryAttribute
{
    public IlgpuGoldenTheoryAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        if (Environment.GetEnvironmentVariable("CANDLE_ILGPU_GOLDEN") != "1") Skip = "whole models on ILGPU's CPU accelerator take many minutes; set CANDLE_ILGPU_GOLDEN=1";
    }
}
