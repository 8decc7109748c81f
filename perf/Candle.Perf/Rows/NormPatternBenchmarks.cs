using BenchmarkDotNet.Attributes;
using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Perf.Elementwise;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Perf.Rows;

/// <summary>
/// Norms and softmax written from primitives (as ONNX imports, traced eager code and backward graphs leave them) on two
/// threads, O2 without pattern recognition: the generated row reduction with a broadcast consumer (one kernel per row,
/// <c>reduce_broadcast</c>) beside the previous lowering of the same graph (<c>CpuBackend(fuseBroadcastReductions:
/// false)</c>: generated reductions into [rows, 1] buffers, then elementwise kernels reading them broadcast) and beside
/// the library op (<c>rt:rms_norm</c>, <c>rt:softmax</c>, <c>rt:layer_norm</c>, <c>rt:log_softmax</c>) that pattern
/// recognition would substitute. GB/s counts the matrix read once and written once.
/// </summary>
[Config(typeof(BandwidthConfig))]
public class NormPatternBenchmarks
{
    private const int Threads = 2;
    private const double Eps = 1e-5;

    private Plan _library = null!;
    private Plan _twoKernel = null!;
    private Plan _fused = null!;
    private HostTensor[] _inputs = [];
    private HostTensor[] _out = [];

    public static IEnumerable<NormPatternCase> Cases =>
    [
        .. new[] { "rms_norm", "softmax", "layer_norm", "log_softmax" }.SelectMany(n => new NormPatternCase[] { new(n, 1024, 4096), new(n, 4096, 768) }),
    ];

    [ParamsSource(nameof(Cases))]
    public NormPatternCase Case { get; set; } = new("rms_norm", 1024, 4096);

    /// <summary>The case written from primitives (<paramref name="library"/> false) or as the library op.</summary>
    public static Graph BuildGraph(NormPatternCase c, bool library)
    {
        var x = Input("x", DType.F32, Shape.Of(c.Rows, c.Cols));
        var w = Input("w", DType.F32, Shape.Of(c.Cols));
        var b = Input("b", DType.F32, Shape.Of(c.Cols));
        Node y;
        if (library)
        {
            y = c.Name switch
            {
                "rms_norm" => RmsNorm(x, w, Eps),
                "softmax" => Softmax(x, -1),
                "layer_norm" => LayerNorm(x, w, b, Eps),
                "log_softmax" => LogSoftmax(x, -1),
                _ => throw new ArgumentException($"unknown case {c.Name}"),
            };
        }
        else
        {
            y = c.Name switch
            {
                "rms_norm" => Binary(Op.Mul, Binary(Op.Mul, x, Unary(Op.Rsqrt, Binary(Op.Add, Reduce(Op.Mean, Binary(Op.Mul, x, x), [1], true), Eps))), w),
                "softmax" => SoftmaxOf(x),
                "layer_norm" => LayerNormOf(x, w, b),
                "log_softmax" => LogSoftmaxOf(x),
                _ => throw new ArgumentException($"unknown case {c.Name}"),
            };
        }

        Node[] inputs = c.Name is "rms_norm" ? [x, w] : c.Name is "layer_norm" ? [x, w, b] : [x];
        return new Graph(inputs, [y], ["y"]);

        static Node SoftmaxOf(Node x)
        {
            var e = Unary(Op.Exp, Binary(Op.Sub, x, Reduce(Op.Max, x, [1], true)));
            return Binary(Op.Div, e, Reduce(Op.Sum, e, [1], true));
        }

        static Node LayerNormOf(Node x, Node w, Node b)
        {
            var d = Binary(Op.Sub, x, Reduce(Op.Mean, x, [1], true));
            var v = Reduce(Op.Mean, Binary(Op.Mul, d, d), [1], true);
            return Binary(Op.Add, Binary(Op.Mul, Binary(Op.Mul, d, Unary(Op.Rsqrt, Binary(Op.Add, v, Eps))), w), b);
        }

        static Node LogSoftmaxOf(Node x)
        {
            var d = Binary(Op.Sub, x, Reduce(Op.Max, x, [1], true));
            return Binary(Op.Sub, d, Unary(Op.Log, Reduce(Op.Sum, Unary(Op.Exp, d), [1], true)));
        }
    }

    /// <summary>The graph through the O2 pipeline for <paramref name="backend"/> without pattern recognition, lowered.</summary>
    public static Plan CompilePrimitives(Graph graph, CpuBackend backend)
    {
        var context = new PassContext(2) { Capabilities = backend.Capabilities };
        context.DisabledPasses.Add("pattern-recognition");
        return backend.LowerPlan(PassManager.CreateDefault().Run(graph, context), new CompileOptions { OptLevel = 2, Threads = Threads });
    }

    [GlobalSetup]
    public void Setup()
    {
        var primitives = BuildGraph(Case, library: false);
        _library = CpuBackend.Instance.CompilePlan(BuildGraph(Case, library: true), new CompileOptions { OptLevel = 2, Threads = Threads });
        _twoKernel = CompilePrimitives(primitives, new CpuBackend(fuseBroadcastReductions: false));
        _fused = CompilePrimitives(primitives, CpuBackend.Instance);
        var rng = new Random(5);
        _inputs = [.. primitives.Inputs.Select(i =>
        {
            var t = HostTensor.Zeros(DType.F32, [.. i.Shape.Select(d => (int)d.Value)]);
            var s = t.AsSpan<float>();
            for (int k = 0; k < s.Length; k++) s[k] = (float)((rng.NextDouble() * 8) - 4);
            return t;
        })];
        _out = [HostTensor.Zeros(DType.F32, Case.Rows, Case.Cols)];
        var results = new[] { _library, _twoKernel, _fused }.Select(p =>
        {
            var o = HostTensor.Zeros(DType.F32, Case.Rows, Case.Cols);
            p.RunInto(_inputs, [o]);
            return o.ToFloat32();
        }).ToArray();
        double d = 0;
        for (int i = 0; i < results[0].Length; i++) d = Math.Max(d, Math.Abs(results[0][i] - results[2][i]) / (1 + Math.Abs(results[0][i])));
        Console.WriteLine(
            $"// {Case}: steps library {_library.Definition.Steps.Count}, two-kernel {_twoKernel.Definition.Steps.Count}, fused {_fused.Definition.Steps.Count}; max relative difference fused vs library {d:g3}");
    }

    [Benchmark(Baseline = true, Description = "primitives, reduction + elementwise kernels")]
    public void TwoKernel() => _twoKernel.RunInto(_inputs, _out);

    [Benchmark(Description = "primitives, one reduce_broadcast kernel")]
    public void Fused() => _fused.RunInto(_inputs, _out);

    [Benchmark(Description = "library op")]
    public void Library() => _library.RunInto(_inputs, _out);
}
