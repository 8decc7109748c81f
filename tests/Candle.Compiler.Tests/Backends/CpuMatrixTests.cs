using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Tests.BackendMatrix;

namespace Candle.Compiler.Tests.Backends;

/// <summary>The backend matrix on the CPU backend.</summary>
public class CpuMatrixTests : BackendMatrixTests
{
    protected override IBackend Backend => CpuBackend.Instance;
}
