using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// random_uniform and a dropout composed of it on ILGPU's CPU accelerator: the reference interpreter's values bit for
/// bit, over a symbolic batch and a count that is not a multiple of the generator's four words.
/// </summary>
public class RandomUniformTests
{
    private static HostTensor Seed(long value)
    {
        var t = HostTensor.Zeros(DType.I64);
        t.SetInt64(0, value);
        return t;
    }

    [Theory]
    [InlineData(3, 7)]
    [InlineData(5, 1001)]
    public void DropoutMatchesTheReferenceBitForBit(int batch, int width)
    {
        var b = Dim.Sym("b");
        var seed = Input("rng.seed", DType.I64, Shape.Scalar);
        var x = Input("x", DType.F32, new Shape(b, width));
        var u = RandomUniform(seed, x.Shape, stream: 3);
        var keep = Binary(Op.Ge, u, Scalar(0.25, DType.F32));
        var y = Where(keep, Binary(Op.Mul, x, Scalar(4.0 / 3, DType.F32)), Scalar(0, DType.F32));
        var g = new Graph([seed, x], [u, y], ["u", "y"]);
        var rng = new Random(width);
        var xs = HostTensor.FromArray([.. Enumerable.Range(0, batch * width).Select(_ => (float)(rng.NextDouble() - 0.5))], batch, width);
        HostTensor[] inputs = [Seed(-77), xs];
        var expected = ReferenceInterpreter.Run(g, inputs);
        using var exe = CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu });
        var actual = exe.Run(inputs);
        for (int o = 0; o < 2; o++) Assert.Equal(expected[o].ToFloat32(), actual[o].ToFloat32());

        // Another seed through the same executable gives other draws.
        Assert.NotEqual(expected[0].ToFloat32(), exe.Run([Seed(-78), xs])[0].ToFloat32());
    }

    [Fact]
    public void TheKernelRendersAsPtxAndOpenCl()
    {
        using var source = new KernelSource();
        var kernel = typeof(RandomKernels).GetMethod(nameof(RandomKernels.Uniform))!;
        Assert.Contains(".entry", source.Ptx(kernel, false), StringComparison.Ordinal);
        Assert.Contains("kernel void", source.OpenCL(kernel, false), StringComparison.Ordinal);
    }
}
