using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Tests.BackendMatrix;

namespace Candle.Compiler.Tests.Backends;

/// <summary>The backend matrix on the CPU backend without generated code (elementwise work in <c>rt:fused</c>, reductions as library calls).</summary>
public class CpuInterpretedMatrixTests : BackendMatrixTests
{
    private static readonly CpuBackend s_backend = new(generateKernels: false);

    protected override IBackend Backend => s_backend;
}
