using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Tests.BackendMatrix;

namespace Candle.Compiler.Tests.Backends;

/// <summary>The backend matrix on the CPU backend with reductions as the runtime's row kernel (no generated reductions).</summary>
public class CpuLibraryReductionMatrixTests : BackendMatrixTests
{
    private static readonly CpuBackend s_backend = new(generateReductions: false);

    protected override IBackend Backend => s_backend;
}
