using Candle.Compiler.Autodiff;
using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Tests.BackendMatrix;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// Elementwise groups with several outputs (an optimizer's new parameter and moments) run as one launch of a
/// generated kernel that stores every output, on ILGPU's CPU accelerator, against the reference interpreter on the
/// graph as written: f32, f16 and bf16 operands, a strided (transposed) and a broadcast input, ranks that take the
/// 32-bit kernel, donated state written in place, and the optimizers' apply steps.
/// </summary>
public class MultiOutputTests
{
    /// <summary>
    /// m = m0·0.9 + gᵀ·0.1 and p' = p − lr·m over [rows, cols] (g read transposed, lr a broadcast [] input) with a
    /// copy of p' in another dtype: three outputs of one group.
    /// </summary>
    private static Graph Update(DType dt, int rows, int cols, bool donated)
    {
        Node In(string name, DType t, Shape s) => donated ? DonatedInput(name, t, s) : Input(name, t, s);
        var p = In("p", dt, Shape.Of(rows, cols));
        var m0 = In("m0", dt, Shape.Of(rows, cols));
        var g = Input("g", dt, Shape.Of(cols, rows));
        var lr = Input("lr", dt, Shape.Scalar);
        var m = Binary(Op.Add, Binary(Op.Mul, m0, 0.9), Binary(Op.Mul, Permute(g, [1, 0]), 0.1));
        var next = Binary(Op.Sub, p, Binary(Op.Mul, m, lr));
        var other = dt == DType.F32 ? DType.BF16 : DType.F32;
        return new Graph([p, m0, g, lr], [next, m, Cast(next, other)], ["p", "m", "p_cast"]);
    }

    public static TheoryData<DType, int, int, bool> Cases() => new()
    {
        { DType.F32, 5, 37, true },
        { DType.F32, 5, 37, false },
        { DType.F16, 9, 16, true },
        { DType.BF16, 3, 65, false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_group_with_several_outputs_is_one_launch_matching_the_reference(DType dt, int rows, int cols, bool donated)
    {
        var graph = Update(dt, rows, cols, donated);
        var rng = new Random((rows * 100) + cols);
        var inputs = graph.Inputs.Select(i => BackendCases.Random(rng, i.DType, i.Shape.ToInts(), -1, 1)).ToArray();
        var want = ReferenceInterpreter.Run(graph, [.. inputs.Select(t => t.Clone())]);
        using var exe = (GpuExecutable)CandleCompiler.CompileExecutable(graph, new CompileOptions { Backend = GpuBackends.IlgpuCpu, OptLevel = 2 });
        var update = Assert.Single(exe.Kernels.Calls.OfType<ElementwiseCall>(), e => e.StoreSlots.Count > 0);
        Assert.Equal(2, update.StoreSlots.Count);
        var got = exe.Run([.. inputs.Select(t => t.Clone())]);
        var (atol, rtol) = BackendCases.Tol(dt);
        Assert.Null(BackendCases.Compare(want, got, atol, rtol));
    }

    public static TheoryData<string> Optimizers => ["adamw", "adam", "sgd-momentum"];

    private static Optimizer Make(string name) => name switch
    {
        "adam" => new Adam(learningRate: 0.01, weightDecay: 0.05),
        "adamw" => new AdamW(learningRate: 0.01, weightDecay: 0.1),
        _ => new Sgd(0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01),
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void The_optimizer_updates_each_parameter_in_one_launch(string name)
    {
        var optimizer = Make(name);
        (string, DType, Shape)[] parameters = [("w", DType.F32, Shape.Of(7, 33)), ("b", DType.F32, Shape.Of(33)), ("s", DType.F32, Shape.Of(1))];
        var apply = TrainStep.BuildApply(parameters, optimizer);
        using var exe = (GpuExecutable)CandleCompiler.CompileExecutable(apply.Graph, new CompileOptions { Backend = GpuBackends.IlgpuCpu });

        // One launch per parameter, storing the parameter and every state in place of the donated inputs (a per-step
        // scalar the updates share may be computed by a launch of its own).
        var updates = exe.Kernels.Calls.OfType<ElementwiseCall>().Where(e => e.StoreSlots.Count > 0).ToList();
        Assert.Equal(parameters.Length, updates.Count);
        Assert.All(updates, u => Assert.Equal(optimizer.StateNames.Count, u.StoreSlots.Count));
        Assert.All(exe.Kernels.Outputs, o => Assert.Contains(exe.Kernels.Inputs, i => i.Buffer == o.Buffer));
        Assert.All(exe.Kernels.Outputs, o => Assert.Single(updates, u => u.Output == o.Buffer || u.StoreSlots.Contains(o.Buffer)));

        var rng = new Random(17);
        var inputs = apply.Graph.Inputs.Select(i =>
        {
            string n = i.Attr<InputAttrs>().Name;
            if (n.StartsWith("hp.", StringComparison.Ordinal)) return HostTensor.FromArray([(float)optimizer.Scalars(3, optimizer.LearningRate)[optimizer.ScalarNames.ToList().IndexOf(n[3..])]]).Reshape();
            return BackendCases.Random(rng, i.DType, i.Shape.ToInts(), n.StartsWith("exp_avg_sq", StringComparison.Ordinal) ? 0 : -1, 1);
        }).ToArray();
        var want = ReferenceInterpreter.Run(apply.Graph, [.. inputs.Select(t => t.Clone())]);
        var got = exe.Run([.. inputs.Select(t => t.Clone())]);
        Assert.Null(BackendCases.Compare(want, got, 1e-6, 1e-5));
    }
}
