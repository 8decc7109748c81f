using System.Numerics.Tensors;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// A compiled plan fed with System.Numerics.Tensors tensors: inputs converted without copies, outputs written in
/// place into a <see cref="Tensor{T}"/>'s memory (<see cref="Candle.Runtime.Plans.Plan.RunInto"/>) and read as tensor
/// spans; values checked against TensorPrimitives.
/// </summary>
public class TensorInteropPlanTests
{
    [Fact]
    public void A_plan_reads_and_writes_tensor_memory_in_place()
    {
        var x = Input("x", DType.F32, new Shape(Dim.Sym("n"), 5));
        var b = Input("b", DType.F32, new Shape(5));
        var g = new Graph([x, b], [Binary(Op.Add, Binary(Op.Mul, x, 2.0), b)]);
        using var plan = CpuHarness.Compile(g, optLevel: 2);

        var rng = new Random(3);
        var xs = Tensor.Create(Enumerable.Range(0, 15).Select(_ => (float)rng.NextDouble()).ToArray(), [3, 5]);
        var bs = Tensor.Create(new float[] { 1, -1, 0.5f, 0, 3 }, [5]);
        var y = Tensor.Create(new float[15], [3, 5]);
        plan.RunInto([xs.ToHostTensor(), bs.ToHostTensor()], [y.ToHostTensor()]);

        // Oracle: 2x + b row by row with TensorPrimitives.
        var expected = new float[5];
        for (int i = 0; i < 3; i++)
        {
            var row = xs.AsReadOnlyTensorSpan().GetSpan([i, 0], 5);
            TensorPrimitives.MultiplyAdd(row, 2f, bs.AsReadOnlyTensorSpan().GetSpan([0], 5), expected);
            for (int j = 0; j < 5; j++) Assert.Equal(expected[j], y[i, j]);
        }

        // Outputs of Run are read in place as tensor spans.
        var outputs = plan.Run([xs.ToHostTensor(), bs.ToHostTensor()]);
        var view = outputs[0].AsReadOnlyTensorSpan<float>();
        Assert.Equal([3, 5], view.Lengths.ToArray());
        for (int i = 0; i < 3; i++) for (int j = 0; j < 5; j++) Assert.Equal(y[i, j], view[i, j]);
    }
}
