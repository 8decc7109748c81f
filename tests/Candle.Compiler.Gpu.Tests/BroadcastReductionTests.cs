using Candle.Compiler.Autodiff;
using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Tests.BackendMatrix;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// Reductions broadcast back over their rows (<see cref="BroadcastReductionCall"/>: norms and softmax written from
/// primitives, a layer norm's input gradient) run as one generated kernel per row on ILGPU's CPU accelerator, against
/// the reference interpreter on the graph as written: rms norm, softmax, layer norm, log-softmax and rows folded by
/// min and prod, in f32/f16/bf16, with rows dense, transposed (strided along the row), strided by 2, offset, reduced
/// over two axes a permutation keeps apart, and row lengths below and above a group's threads.
/// </summary>
public class BroadcastReductionTests
{
    private static Node RmsNorm(Node x, Node w)
    {
        int last = x.Shape.Rank - 1;
        var r = Unary(Op.Rsqrt, Binary(Op.Add, Reduce(Op.Mean, Binary(Op.Mul, x, x), [last], keepDim: true), 1e-6));
        return Binary(Op.Mul, Binary(Op.Mul, x, r), w);
    }

    private static Node Softmax(Node x)
    {
        int last = x.Shape.Rank - 1;
        var e = Unary(Op.Exp, Binary(Op.Sub, x, Reduce(Op.Max, x, [last], keepDim: true)));
        return Binary(Op.Div, e, Reduce(Op.Sum, e, [last], keepDim: true));
    }

    private static Node LayerNorm(Node x, Node w, Node b, int axes = 1)
    {
        int[] over = [.. Enumerable.Range(x.Shape.Rank - axes, axes)];
        var d = Binary(Op.Sub, x, Reduce(Op.Mean, x, over, keepDim: true));
        var variance = Reduce(Op.Mean, Binary(Op.Mul, d, d), over, keepDim: true);
        return Binary(Op.Add, Binary(Op.Mul, Binary(Op.Div, d, Unary(Op.Sqrt, Binary(Op.Add, variance, 1e-5))), w), b);
    }

    private static Node LogSoftmax(Node x)
    {
        int last = x.Shape.Rank - 1;
        var d = Binary(Op.Sub, x, Reduce(Op.Max, x, [last], keepDim: true));
        return Binary(Op.Sub, d, Unary(Op.Log, Reduce(Op.Sum, Unary(Op.Exp, d), [last], keepDim: true)));
    }

    /// <summary>(x − min(x)) · prod(1 + x/64) over the row: the min and prod folds.</summary>
    private static Node MinProd(Node x)
    {
        int last = x.Shape.Rank - 1;
        var p = Reduce(Op.Prod, Binary(Op.Add, Binary(Op.Div, x, 64.0), 1.0), [last], keepDim: true);
        return Binary(Op.Mul, Binary(Op.Sub, x, Reduce(Op.Min, x, [last], keepDim: true)), p);
    }

    public static TheoryData<string, DType, int, int, string> Cases() => new()
    {
        { "rms_norm", DType.F32, 6, 37, "dense" },
        { "softmax", DType.F32, 5, 300, "dense" },
        { "layer_norm", DType.F32, 4, 33, "transposed" },
        { "log_softmax", DType.F32, 7, 19, "strided" },
        { "min_prod", DType.F32, 3, 45, "sliced" },
        { "layer_norm", DType.F32, 3, 12, "two_axes" },
        { "softmax", DType.F16, 4, 40, "dense" },
        { "rms_norm", DType.BF16, 5, 24, "transposed" },
        { "layer_norm", DType.F16, 2, 70, "sliced" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_row_reduction_read_back_over_its_row_is_one_launch_matching_the_reference(string pattern, DType dt, int rows, int length, string layout)
    {
        var (graph, input) = Case(pattern, dt, rows, length, layout);
        var rng = new Random((rows * 1000) + length);
        var inputs = new[] { BackendCases.Random(rng, dt, input, -2, 2) };
        var want = ReferenceInterpreter.Run(graph, inputs);
        var backend = GpuBackends.IlgpuCpu;
        var context = new PassContext(2) { Capabilities = backend.Capabilities };
        context.DisabledPasses.Add("pattern-recognition");
        using var exe = backend.LowerExecutable(PassManager.CreateDefault().Run(graph, context), new CompileOptions { OptLevel = 2 });
        Assert.Single(exe.Kernels.Calls.OfType<BroadcastReductionCall>());
        Assert.DoesNotContain(exe.Kernels.Calls, c => c is ReduceCall);
        var got = exe.Run(inputs);
        var (atol, rtol) = BackendCases.Tol(dt, length);
        Assert.Null(BackendCases.Compare(want, got, atol, rtol));
    }

    /// <summary>
    /// The backward pass of a layer norm and of a softmax (as a train step has them: dx of the layer norm's closed form,
    /// the softmax's y·(g − Σ g·y)), each one launch, and every gradient against the reference interpreter on the
    /// gradient graph as written.
    /// </summary>
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.BF16)]
    public void Layer_norm_and_softmax_gradients_are_one_launch_each(DType dt)
    {
        const int Rows = 6, Length = 40;
        var x = Input("x", dt, Shape.Of(Rows, Length));
        var s = Input("s", dt, Shape.Of(Rows, Length));
        var w = Input("w", dt, Shape.Of(Length));
        var b = Input("b", dt, Shape.Of(Length));
        var rng = new Random(7);
        var g1 = Constant(BackendCases.Random(rng, dt, [Rows, Length], -1, 1), "g1");
        var g2 = Constant(BackendCases.Random(rng, dt, [Rows, Length], -1, 1), "g2");
        var loss = Binary(Op.Add,
            Reduce(Op.Sum, Binary(Op.Mul, IrBuilder.LayerNorm(x, w, b, 1e-5), g1)),
            Reduce(Op.Sum, Binary(Op.Mul, IrBuilder.Softmax(s, 1), g2)));
        var grads = ReverseMode.Gradients(loss, [x, s, w, b]);
        var graph = new Graph([x, s, w, b], grads, ["dx", "ds", "dw", "db"]);
        var inputs = graph.Inputs.Select(i => BackendCases.Random(rng, dt, i.Shape.ToInts(), -2, 2)).ToArray();
        var want = ReferenceInterpreter.Run(graph, inputs);
        using var exe = (GpuExecutable)CandleCompiler.CompileExecutable(graph, new CompileOptions { Backend = GpuBackends.IlgpuCpu, OptLevel = 2 });
        Assert.Equal(2, exe.Kernels.Calls.OfType<BroadcastReductionCall>().Count());
        Assert.DoesNotContain(exe.Kernels.Calls, c => c is ReduceCall);
        var got = exe.Run(inputs);
        var (atol, rtol) = BackendCases.Tol(dt, Length * Rows);
        Assert.Null(BackendCases.Compare(want, got, atol, rtol));
    }

    /// <summary>
    /// Without a device, each row kernel compiles to PTX in both forms (the CUDA form folding by warp shuffles) and the
    /// shared-memory form to OpenCL C; a multi-output update's kernel stores each of its outputs.
    /// </summary>
    [Fact]
    public void Row_kernels_and_multi_output_kernels_generate_ptx_and_opencl()
    {
        var (graph, _) = Case("layer_norm", DType.F16, 4, 64, "dense");
        var context = new PassContext(2) { Capabilities = GpuBackends.IlgpuCpu.Capabilities };
        context.DisabledPasses.Add("pattern-recognition");
        var kernels = Scheduler.Schedule(PassManager.CreateDefault().Run(graph, context), broadcastReductions: true);
        var call = Assert.Single(kernels.Calls.OfType<BroadcastReductionCall>());
        var (type, _) = GpuBackend.RenderKernels(kernels, out var rowNames);
        using var source = new KernelSource();
        var shared = type!.GetMethod(rowNames[call.Kernel])!;
        var shuffled = type.GetMethod(rowNames[call.Kernel] + Kernels.BroadcastReductionKernelEmitter.ShuffleSuffix)!;
        Assert.Contains("bar.sync", source.Ptx(shared, true), StringComparison.Ordinal);
        Assert.Contains("shfl.sync", source.Ptx(shuffled, true), StringComparison.Ordinal);
        Assert.Contains("kernel void", source.OpenCL(shared, true), StringComparison.Ordinal);

        var p = Input("p", DType.F32, Shape.Of(64));
        var m0 = Input("m", DType.F32, Shape.Of(64));
        var m = Binary(Op.Add, Binary(Op.Mul, m0, 0.9), Binary(Op.Mul, p, 0.1));
        var update = new Graph([p, m0], [Binary(Op.Sub, p, m), m], ["p", "m"]);
        var multi = Scheduler.Schedule(CandleCompiler.Optimize(update, new CompileOptions { Backend = GpuBackends.IlgpuCpu }));
        var e = Assert.Single(multi.Calls.OfType<ElementwiseCall>(), c => c.StoreSlots.Count == 1);
        var (mtype, names) = GpuBackend.RenderKernels(multi);
        string ptx = source.Ptx(mtype!.GetMethod(names[e.Kernel])!, false);
        Assert.Equal(2, ptx.Split("st.global.f32").Length - 1);
        Assert.Contains("kernel void", source.OpenCL(mtype.GetMethod(names[e.Kernel])!, false), StringComparison.Ordinal);
    }

    private static (Graph Graph, int[] Input) Case(string pattern, DType dt, int rows, int length, string layout)
    {
        Node input, x;
        int[] shape;
        switch (layout)
        {
            case "transposed":
                // The rows are columns of the stored tensor: a stride along the reduced axis.
                shape = [length, rows];
                input = Input("x", dt, Shape.Of(shape));
                x = Permute(input, [1, 0]);
                break;
            case "strided":
                shape = [rows, 2 * length];
                input = Input("x", dt, Shape.Of(shape));
                x = Slice(input, 1, 1, 2 * length, step: 2);
                break;
            case "sliced":
                shape = [rows, length + 5];
                input = Input("x", dt, Shape.Of(shape));
                x = Slice(input, 1, 3, 3 + length);
                break;
            case "two_axes":
                // [rows, a, b] reduced over (a, b) after swapping them: two reduced dims that do not collapse.
                shape = [rows, 3, length / 3];
                input = Input("x", dt, Shape.Of(shape));
                x = Permute(input, [0, 2, 1]);
                break;
            default:
                shape = [rows, length];
                input = Input("x", dt, Shape.Of(shape));
                x = input;
                break;
        }

        var rng = new Random(length);
        var w = Weight(rng, "w", dt, length);
        var b = Weight(rng, "b", dt, length);
        var y = pattern switch
        {
            "rms_norm" => RmsNorm(x, w),
            "softmax" => Softmax(x),
            "layer_norm" when layout == "two_axes" => LayerNorm(x, Scalar(1.0, dt), Scalar(0.5, dt), axes: 2),
            "layer_norm" => LayerNorm(x, w, b),
            "log_softmax" => LogSoftmax(x),
            _ => MinProd(x),
        };
        return (new Graph([input], [y]), shape);
    }

    private static Node Weight(Random rng, string name, DType dt, int length) => Constant(BackendCases.Random(rng, dt, [length], 0.5, 1.5), name);
}
