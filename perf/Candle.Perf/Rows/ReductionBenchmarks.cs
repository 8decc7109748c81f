using BenchmarkDotNet.Attributes;
using Candle.Compiler;
using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Ir;
using Candle.Perf.Elementwise;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;

namespace Candle.Perf.Rows;

/// <summary>
/// Reductions with fused elementwise producers and consumers on two threads, O2: the generated reduction (one kernel
/// per reduce group, vectorized along the reduced axis or along the kept one) beside the same graph lowered with the
/// runtime's row reduction (<c>CpuBackend(generateReductions: false)</c>: the producer as a generated elementwise
/// kernel into the arena, a transposing copy when the reduced axis is not the last, <c>rt:reduce</c>, then the
/// consumer). GB/s counts the input read once and the output written once.
/// </summary>
[Config(typeof(BandwidthConfig))]
public class ReductionBenchmarks
{
    private const int Threads = 2;

    private Plan _library = null!;
    private Plan _generated = null!;
    private HostTensor[] _inputs = [];
    private HostTensor[] _libraryOut = [];
    private HostTensor[] _generatedOut = [];

    public static IEnumerable<ReductionCase> Cases =>
    [
        new("sum(x) last", [4096, 4096], 4096),
        new("rsqrt(mean(x*x)+eps) last", [4096, 4096], 4096),
        new("sum(x) first", [4096, 4096], 4096),
        new("max(exp(x)) middle", [64, 512, 512], 64 * 512),
        new("log(sum(exp(x-max))) last", [512, 32000], 512),
        new("mean(x) two axes", [64, 512, 512], 512),
    ];

    [ParamsSource(nameof(Cases))]
    public ReductionCase Case { get; set; } = null!;

    /// <summary>The graph of a case.</summary>
    public static Graph BuildGraph(ReductionCase c)
    {
        var x = IrBuilder.Input("x", DType.F32, Shape.Of(c.Shape));
        var y = c.Name switch
        {
            "sum(x) last" => IrBuilder.Reduce(Op.Sum, x, [1]),
            "rsqrt(mean(x*x)+eps) last" => IrBuilder.Unary(Op.Rsqrt, IrBuilder.Binary(Op.Add, IrBuilder.Reduce(Op.Mean, IrBuilder.Binary(Op.Mul, x, x), [1], true), 1e-6)),
            "sum(x) first" => IrBuilder.Reduce(Op.Sum, x, [0]),
            "max(exp(x)) middle" => IrBuilder.Reduce(Op.Max, IrBuilder.Unary(Op.Exp, x), [1]),
            "log(sum(exp(x-max))) last" => IrBuilder.Unary(Op.Log, IrBuilder.Reduce(Op.Sum, IrBuilder.Unary(Op.Exp, IrBuilder.Binary(Op.Sub, x, IrBuilder.Reduce(Op.Max, x, [1], true))), [1])),
            "mean(x) two axes" => IrBuilder.Reduce(Op.Mean, x, [0, 2]),
            _ => throw new ArgumentException($"unknown case {c.Name}"),
        };
        return new Graph([x], [y], ["y"]);
    }

    [GlobalSetup]
    public void Setup()
    {
        var graph = BuildGraph(Case);
        _library = new CpuBackend(generateReductions: false).CompilePlan(graph, new CompileOptions { OptLevel = 2, Threads = Threads });
        _generated = CpuBackend.Instance.CompilePlan(graph, new CompileOptions { OptLevel = 2, Threads = Threads });
        var rng = new Random(5);
        var x = HostTensor.Zeros(DType.F32, Case.Shape);
        var xs = x.AsSpan<float>();
        for (int i = 0; i < xs.Length; i++) xs[i] = (float)((rng.NextDouble() * 4) - 2);
        _inputs = [x];
        var outShape = graph.Outputs[0].Shape.Select(d => (int)d.Value).ToArray();
        _libraryOut = [HostTensor.Zeros(DType.F32, outShape)];
        _generatedOut = [HostTensor.Zeros(DType.F32, outShape)];
        Library();
        Generated();
        var a = _libraryOut[0].ToFloat32();
        var b = _generatedOut[0].ToFloat32();
        double d = 0;
        for (int i = 0; i < a.Length; i++) d = Math.Max(d, Math.Abs(a[i] - b[i]) / (1 + Math.Abs(a[i])));
        Console.WriteLine($"// {Case}: library {_library.Definition.Steps.Count} steps, generated {_generated.Definition.Steps.Count}; max relative difference {d:g3}");
    }

    [Benchmark(Baseline = true, Description = "rt:reduce (library)")]
    public void Library() => _library.RunInto(_inputs, _libraryOut);

    [Benchmark(Description = "generated reduction")]
    public void Generated() => _generated.RunInto(_inputs, _generatedOut);
}
