using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Metal;
using Candle.Tests.BackendMatrix;

namespace Candle.Compiler.Tests.Metal;

/// <summary>
/// The backend matrix on the Metal backend through the shim. The generated kernels of every case at O0 and O2 are
/// compiled first, together, in one clang++ run (<see cref="MetalMatrixKernels"/>); each case then compiles nothing.
/// </summary>
public class MetalMatrixTests(MetalMatrixKernels kernels) : BackendMatrixTests, IClassFixture<MetalMatrixKernels>
{
    protected override IBackend Backend => kernels.Backend;
}

/// <summary>Compiles the generated kernels of the whole matrix in one translation unit, once for the test class.</summary>
public sealed class MetalMatrixKernels
{
    public MetalMatrixKernels()
    {
        if (!Backend.IsAvailable) return;
        MslShim.Preload(BackendCases.All().SelectMany(c => new[] { 0, 2 }.Select(level =>
            MetalBackend.Emit(CandleCompiler.Optimize(c.Graph, new CompileOptions { Backend = Backend, OptLevel = level })))));
    }

    /// <summary>The backend the matrix runs on.</summary>
    public IBackend Backend => MetalBackend.ThroughShim;
}
