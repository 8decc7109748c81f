using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Tests.Cpu;

public class SmokeTests
{
    [Fact]
    public void AddMul()
    {
        var a = IrBuilder.Input("a", DType.F32, Shape.Of(3, 37));
        var b = IrBuilder.Input("b", DType.F32, Shape.Of(37));
        var y = IrBuilder.Binary(Op.Mul, IrBuilder.Binary(Op.Add, a, b), 2.0);
        var g = new Graph([a, b], [y]);
        var rng = new Random(1);
        var plan = CpuHarness.Compile(g);
        CpuHarness.CheckAgainstReference(g, [CpuHarness.Random(rng, DType.F32, [3, 37]), CpuHarness.Random(rng, DType.F32, [37])], 1e-6, 1e-6, plan: plan);
        Assert.Contains("SimdLanes", plan.DumpKernels());
    }
}
