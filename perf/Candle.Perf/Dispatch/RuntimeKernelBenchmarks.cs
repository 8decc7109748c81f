using BenchmarkDotNet.Attributes;
using Candle.Compiler.Ir;
using Candle.Perf.Elementwise;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Perf.Dispatch;

/// <summary>
/// Per-call time of plans that call the runtime's convolution, pooling, gather, scatter_add and copy kernels on small
/// tensors (one call each through <c>RunInto</c>): the kernels' argument reads and the plan's per-call checks show
/// here next to the kernels' work.
/// </summary>
[Config(typeof(DispatchBenchmarks.Config))]
public class RuntimeKernelBenchmarks
{
    private readonly Dictionary<string, (Plan Plan, HostTensor[] Inputs, HostTensor[] Outputs)> _cases = [];

    [Params(1)]
    public int Threads { get; set; } = 1;

    private static Node Weight(int seed, params int[] shape)
    {
        var r = new Random(seed);
        long n = shape.Aggregate(1L, (a, d) => a * d);
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = (float)((r.NextDouble() * 2) - 1);
        return Constant(HostTensor.FromArray(data, shape), $"w{seed}");
    }

    private static HostTensor Random(int seed, params int[] shape)
    {
        var r = new Random(seed);
        long n = shape.Aggregate(1L, (a, d) => a * d);
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = (float)((r.NextDouble() * 2) - 1);
        return HostTensor.FromArray(data, shape);
    }

    private void Add(string name, Graph graph, params HostTensor[] inputs)
    {
        var plan = CandlePlans.Compile(graph, 2, Threads);
        var outputs = plan.Run(inputs);
        _cases[name] = (plan, inputs, outputs);
    }

    [GlobalSetup]
    public void Setup()
    {
        var x = Input("x", DType.F32, Shape.Of(1, 8, 16, 16));
        Add("conv", new Graph([x], [IrBuilder.Conv(x, Weight(1, 8, 8, 3, 3), Weight(2, 8), [1, 1], [1, 1], [1, 1], 1)], ["y"]), Random(3, 1, 8, 16, 16));
        Add("conv_transpose", new Graph([x], [ConvTranspose(x, Weight(4, 8, 4, 2, 2), null, [2, 2], [0, 0], [0, 0], [1, 1], 1)], ["y"]), Random(5, 1, 8, 16, 16));
        Add("max_pool", new Graph([x], [Pool(Op.MaxPool, x, [2, 2], [2, 2], [0, 0])], ["y"]), Random(6, 1, 8, 16, 16));
        var t = Input("t", DType.F32, Shape.Of(64, 32));
        var idx = Input("i", DType.I64, Shape.Of(64, 32));
        var ids = HostTensor.FromArray(Enumerable.Range(0, 64 * 32).Select(i => (long)((i * 7) % 64)).ToArray(), 64, 32);
        Add("gather", new Graph([t, idx], [IrBuilder.Gather(t, 0, idx)], ["y"]), Random(7, 64, 32), ids);
        Add("scatter_add", new Graph([t, idx], [ScatterAdd(t, 0, idx, t)], ["y"]), Random(8, 64, 32), ids);
        Add("copy", new Graph([t], [Permute(t, [1, 0])], ["y"]), Random(9, 64, 32));
        Console.WriteLine($"// kernels: {string.Join(", ", _cases.Select(c => $"{c.Key}: {string.Join(" ", c.Value.Plan.Definition.Steps.Select(s => s.Kernel))}"))}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var c in _cases.Values) c.Plan.Dispose();
    }

    private void RunCase(string name)
    {
        var c = _cases[name];
        c.Plan.RunInto(c.Inputs, c.Outputs);
    }

    [Benchmark(Description = "conv 3x3, 8→8 ch, 16x16")]
    public void Conv() => RunCase("conv");

    [Benchmark(Description = "conv_transpose 2x2/2, 8→4 ch, 16x16")]
    public void ConvTransposed() => RunCase("conv_transpose");

    [Benchmark(Description = "max_pool 2x2/2, 8 ch, 16x16")]
    public void MaxPool() => RunCase("max_pool");

    [Benchmark(Description = "gather axis 0, 64x32")]
    public void Gather() => RunCase("gather");

    [Benchmark(Description = "scatter_add axis 0, 64x32")]
    public void Scatter() => RunCase("scatter_add");

    [Benchmark(Description = "copy (transpose 64x32)")]
    public void Copy() => RunCase("copy");
}
