using System.Reflection;
using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// The PTX of the bandwidth forms behind switches, generated without a device: the pipelined row kernels
/// (<see cref="PipelinedRowKernels"/>) and the flat elementwise kernel unrolled by a chosen count
/// (<see cref="ElementwiseKernelEmitter.FlatUnrolledBy"/>) move 16 bytes an access, use no local memory, and issue
/// their loads before the work that waits on them.
/// </summary>
public sealed class BandwidthCodegenTests : IDisposable
{
    private readonly KernelSource _source = new();

    public void Dispose() => _source.Dispose();

    private static MethodInfo M(Type t, string name, params Type[] args) =>
        t.GetMethod(name, BindingFlags.Public | BindingFlags.Static)!.MakeGenericMethod(args);

    [Theory]
    [InlineData(typeof(F32Octets), 2)]
    [InlineData(typeof(HalfOctets), 1)]
    [InlineData(typeof(F16Octets), 1)]
    [InlineData(typeof(BF16Octets), 1)]
    public void PipelinedRowKernelsMove16BytesAnAccessWithNoLocalOrDynamicSharedMemory(Type storage, int perOctet)
    {
        string rms = _source.Ptx(M(typeof(PipelinedRowKernels), nameof(PipelinedRowKernels.RmsNorm), storage, typeof(ShuffleReducer)), true);
        string softmax = _source.Ptx(M(typeof(PipelinedRowKernels), nameof(PipelinedRowKernels.Softmax), storage, typeof(ShuffleReducer)), true);
        foreach (string ptx in new[] { rms, softmax })
        {
            Assert.DoesNotContain(".local", ptx, StringComparison.Ordinal);
            Assert.DoesNotContain(".extern .shared", ptx, StringComparison.Ordinal);
            Assert.Contains("shfl.sync.bfly", ptx, StringComparison.Ordinal);
            Assert.DoesNotContain("ld.global.f32", ptx, StringComparison.Ordinal);
            Assert.DoesNotContain("ld.global.b16", ptx, StringComparison.Ordinal);
        }

        // The weight's two octets once; x's and the residual's two before the loop and two for the next row in it; the
        // sum and y stored (two octets each). No read-back of the stored sum.
        Assert.Equal(10 * perOctet, Count(rms, "ld.global.v4.b32"));
        Assert.Equal(4 * perOctet, Count(rms, "st.global.v4.b32"));

        // x's two octets before the loop and the next row's two in it; softmax's and log_softmax's two stored.
        Assert.Equal(4 * perOctet, Count(softmax, "ld.global.v4.b32"));
        Assert.Equal(4 * perOctet, Count(softmax, "st.global.v4.b32"));
    }

    [Theory]
    [InlineData(DType.F32, 2, false)]
    [InlineData(DType.F32, 3, false)]
    [InlineData(DType.F32, 8, false)]
    [InlineData(DType.F16, 3, true)]
    [InlineData(DType.BF16, 4, false)]
    public void FlatKernelUnrolledByAChosenCountKeepsEveryBlockOfAStepInFlight(DType dt, int unroll, bool hardwareHalf)
    {
        var emitter = new ElementwiseKernelEmitter(unroll);
        var graph = Scheduler.Schedule(CandleCompiler.Optimize(FusedChain(dt), new Backends.CompileOptions { Backend = GpuBackends.IlgpuCpu }));
        var call = Assert.Single(graph.Calls.OfType<ElementwiseCall>());
        string name = emitter.GetOrAdd(call.Kernel) + ElementwiseKernelEmitter.FlatUnrolledBy(unroll) + (hardwareHalf ? ElementwiseKernelEmitter.HardwareHalfSuffix : "");
        var type = emitter.Build()!;
        string ptx = _source.Ptx(type.GetMethod(name) ?? throw new InvalidOperationException($"no kernel {name}"), false);
        Assert.DoesNotMatch(@"\b(div|rem)\.(s|u)(32|64)\b", ptx);
        Assert.DoesNotContain(".local", ptx, StringComparison.Ordinal);

        // The unrolled step's blocks of the three inputs and their results 16 bytes at a time, the one-block step after
        // it once more; the tail one element at a time.
        Assert.Equal(3 * (unroll + 1), Count(ptx, "ld.global.v4.b32"));
        Assert.Equal(unroll + 1, Count(ptx, "st.global.v4.b32"));
        Assert.Equal(3, Count(ptx, dt == DType.F32 ? "ld.global.f32" : "ld.global.b16"));
        int firstStore = ptx.IndexOf("st.global.v4.b32", StringComparison.Ordinal);
        Assert.Equal(3 * unroll, Count(ptx[..firstStore], "ld.global.v4.b32"));
    }

    [Fact]
    public void WithoutACountNoFurtherFlatKernelIsEmitted()
    {
        var emitter = new ElementwiseKernelEmitter();
        var graph = Scheduler.Schedule(CandleCompiler.Optimize(FusedChain(DType.F32), new Backends.CompileOptions { Backend = GpuBackends.IlgpuCpu }));
        string name = emitter.GetOrAdd(Assert.Single(graph.Calls.OfType<ElementwiseCall>()).Kernel);
        var type = emitter.Build()!;
        Assert.NotNull(type.GetMethod(name + ElementwiseKernelEmitter.FlatUnrolledSuffix));
        Assert.DoesNotContain(type.GetMethods(), m => m.Name.StartsWith(name + ElementwiseKernelEmitter.FlatUnrolledSuffix, StringComparison.Ordinal)
            && m.Name != name + ElementwiseKernelEmitter.FlatUnrolledSuffix);
    }

    private static Graph FusedChain(DType dt)
    {
        var x = Input("x", dt, new Shape(Dim.Sym("n")));
        var w = Input("w", dt, new Shape(Dim.Sym("n")));
        var b = Input("b", dt, new Shape(Dim.Sym("n")));
        return new Graph([x, w, b], [Binary(Op.Mul, Unary(Op.Gelu, Binary(Op.Add, Binary(Op.Mul, x, w), b)), Unary(Op.Sigmoid, x))]);
    }

    private static int Count(string s, string what)
    {
        int n = 0;
        for (int i = s.IndexOf(what, StringComparison.Ordinal); i >= 0; i = s.IndexOf(what, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }
}
