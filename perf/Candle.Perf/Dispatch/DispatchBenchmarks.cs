using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using Candle.Compiler.Ir;
using Candle.Perf.Elementwise;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;

namespace Candle.Perf.Dispatch;

/// <summary>
/// Per-call overhead of a compiled plan on 8 floats: one kernel (x * 2), ten chained scalar ops at O0 (ten kernels)
/// and the same chain at O2 (fused into one kernel), through RunInto (no output allocation) and Run. The cost of one
/// kernel dispatch is (ten kernels − one kernel) / 9.
/// </summary>
[Config(typeof(Config))]
public class DispatchBenchmarks
{
    private const int Length = 8;
    private Plan _one = null!;
    private Plan _ten = null!;
    private Plan _tenFused = null!;
    private HostTensor[] _inputs = [];
    private HostTensor[] _outputs = [];

    [Params(1, 2)]
    public int Threads { get; set; } = 2;

    /// <summary>x, then <paramref name="ops"/> alternating scalar adds and multiplies.</summary>
    public static Graph Chain(int ops)
    {
        var x = IrBuilder.Input("x", DType.F32, Shape.Of(Length));
        var y = x;
        for (int i = 0; i < ops; i++) y = IrBuilder.Binary(i % 2 == 0 ? Op.Mul : Op.Add, y, i % 2 == 0 ? 2.0 : 1.0 + i);
        return new Graph([x], [y], ["y"]);
    }

    [GlobalSetup]
    public void Setup()
    {
        _one = CandlePlans.Compile(Chain(1), 0, Threads);
        _ten = CandlePlans.Compile(Chain(10), 0, Threads);
        _tenFused = CandlePlans.Compile(Chain(10), 2, Threads);
        Console.WriteLine($"// steps: one op {_one.Definition.Steps.Count}, ten ops at O0 {_ten.Definition.Steps.Count}, ten ops at O2 {_tenFused.Definition.Steps.Count}");
        _inputs = [HostTensor.FromArray(Enumerable.Range(0, Length).Select(i => (float)i).ToArray(), Length)];
        _outputs = [HostTensor.Zeros(DType.F32, Length)];
    }

    [Benchmark(Baseline = true, Description = "1 kernel, RunInto")]
    public void OneKernel() => _one.RunInto(_inputs, _outputs);

    [Benchmark(Description = "10 kernels (O0), RunInto")]
    public void TenKernels() => _ten.RunInto(_inputs, _outputs);

    [Benchmark(Description = "10 ops fused (O2), RunInto")]
    public void TenOpsFused() => _tenFused.RunInto(_inputs, _outputs);

    [Benchmark(Description = "1 kernel, Run")]
    public HostTensor[] OneKernelRun() => _one.Run(_inputs);

    [Benchmark(Description = "10 kernels (O0), Run")]
    public HostTensor[] TenKernelsRun() => _ten.Run(_inputs);

    /// <summary>A short job, in process, with the allocation column.</summary>
    public sealed class Config : ManualConfig
    {
        public Config()
        {
            AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(5).WithToolchain(BenchmarkDotNet.Toolchains.InProcess.Emit.InProcessEmitToolchain.Instance).WithId("Short"));
            AddDiagnoser(BenchmarkDotNet.Diagnosers.MemoryDiagnoser.Default);
            HideColumns("Error", "StdDev", "Median", "RatioSD");
        }
    }
}
