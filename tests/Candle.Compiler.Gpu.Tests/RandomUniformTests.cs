using Candle.Compiler.Backends;
using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>random_uniform has no GPU kernel: compiling it is refused naming the op, before any device memory is taken.</summary>
public class RandomUniformTests
{
    [Fact]
    public void RandomUniformIsRefusedNamingTheOp()
    {
        var seed = Input("rng.seed", DType.I64, Shape.Scalar);
        var x = Input("x", DType.F32, Shape.Of(4, 3));
        var keep = Binary(Op.Ge, RandomUniform(seed, x.Shape), Scalar(0.25, DType.F32));
        var g = new Graph([seed, x], [Where(keep, Binary(Op.Mul, x, Scalar(4.0 / 3, DType.F32)), Scalar(0, DType.F32))]);
        var e = Assert.Throws<NotSupportedException>(() => CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu }));
        Assert.Contains("random_uniform", e.Message, StringComparison.Ordinal);
        Assert.Contains("GPU backend", e.Message, StringComparison.Ordinal);
    }
}
