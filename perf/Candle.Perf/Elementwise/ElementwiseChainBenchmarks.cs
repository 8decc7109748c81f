using System.Buffers;
using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Candle.Perf.Elementwise;

/// <summary>
/// The fused elementwise chain <c>gelu(x*w+b)*sigmoid(x)</c> (exact erf gelu) over float32 vectors on two threads:
/// Candle's plan after the O2 pipeline (one fused kernel), the O0 plan (one kernel per op, intermediates in the
/// arena), a sequence of TensorPrimitives calls with whole-length temporaries (tanh-form gelu: TensorPrimitives has
/// no erf), the same sequence over 16K-element blocks, and ONNX Runtime (Mul, Add, Gelu, Sigmoid, Mul at opset 20,
/// IntraOpNumThreads = 2). Every peer writes into a preallocated output. GB/s counts x, w, b read and the output
/// written; compare it with the triad probe run alongside (<c>--filter '*ElementwiseChain*' '*Triad*'</c>). A control,
/// Candle's plan for <c>x*w+b</c> alone, moves the same bytes with almost no arithmetic: the gap between it and the
/// chain is the cost of the gelu and sigmoid math.
/// </summary>
[Config(typeof(BandwidthConfig))]
public unsafe class ElementwiseChainBenchmarks
{
    private const int Threads = 2;
    private const int Block = 16 << 10;
    private const float GeluTanhScale = 0.7978845608f; // sqrt(2 / pi)

    private Plan _fused = null!;
    private Plan _unfused = null!;
    private Plan _affine = null!;
    private HostTensor[] _inputs = [];
    private HostTensor[] _fusedOut = [];
    private HostTensor[] _unfusedOut = [];
    private HostTensor[] _affineOut = [];
    private HostTensor _tpOut = null!;
    private HostTensor _tpBlockedOut = null!;
    private HostTensor _ortOut = null!;
    private HostTensor _t1 = null!;
    private HostTensor _t2 = null!;
    private MemoryHandle[] _pins = [];
    private float* _x;
    private float* _w;
    private float* _b;
    private float* _tp;
    private float* _tpBlocked;
    private float* _tmp1;
    private float* _tmp2;
    private InferenceSession _session = null!;
    private SessionOptions _options = null!;
    private RunOptions _runOptions = null!;
    private OrtValue[] _ortInputs = [];
    private OrtValue[] _ortOutputs = [];

    public static IEnumerable<ElementCount> Lengths => [new(4 << 20), new(64 << 20)];

    [ParamsSource(nameof(Lengths))]
    public ElementCount N { get; set; } = new(4 << 20);

    /// <summary>The chain as a graph with static length <paramref name="n"/>.</summary>
    public static Graph BuildGraph(int n)
    {
        var shape = Shape.Of(n);
        var x = IrBuilder.Input("x", DType.F32, shape);
        var w = IrBuilder.Input("w", DType.F32, shape);
        var b = IrBuilder.Input("b", DType.F32, shape);
        var z = IrBuilder.Binary(Op.Add, IrBuilder.Binary(Op.Mul, x, w), b);
        var y = IrBuilder.Binary(Op.Mul, IrBuilder.Unary(Op.Gelu, z), IrBuilder.Unary(Op.Sigmoid, x));
        return new Graph([x, w, b], [y], ["y"]);
    }

    /// <summary>The control <c>x*w+b</c>: the same bytes moved with almost no arithmetic.</summary>
    public static Graph BuildAffineGraph(int n)
    {
        var shape = Shape.Of(n);
        var x = IrBuilder.Input("x", DType.F32, shape);
        var w = IrBuilder.Input("w", DType.F32, shape);
        var b = IrBuilder.Input("b", DType.F32, shape);
        return new Graph([x, w, b], [IrBuilder.Binary(Op.Add, IrBuilder.Binary(Op.Mul, x, w), b)], ["y"]);
    }

    [GlobalSetup]
    public void Setup()
    {
        int n = N.Length;
        var graph = BuildGraph(n);
        _fused = CandlePlans.Compile(graph, 2, Threads);
        _unfused = CandlePlans.Compile(graph, 0, Threads);
        _affine = CandlePlans.Compile(BuildAffineGraph(n), 2, Threads);
        Console.WriteLine($"// fused plan (O2): {_fused.Definition.Steps.Count} step(s); unfused plan (O0): {_unfused.Definition.Steps.Count} steps");

        var rng = new Random(11);
        HostTensor Filled(double lo, double hi)
        {
            var t = HostTensor.Zeros(DType.F32, n);
            var s = t.AsSpan<float>();
            for (int i = 0; i < s.Length; i++) s[i] = (float)(lo + ((hi - lo) * rng.NextDouble()));
            return t;
        }

        _inputs = [Filled(-4, 4), Filled(-1, 1), Filled(-1, 1)];
        _fusedOut = [HostTensor.Zeros(DType.F32, n)];
        _unfusedOut = [HostTensor.Zeros(DType.F32, n)];
        _affineOut = [HostTensor.Zeros(DType.F32, n)];
        _tpOut = HostTensor.Zeros(DType.F32, n);
        _tpBlockedOut = HostTensor.Zeros(DType.F32, n);
        _ortOut = HostTensor.Zeros(DType.F32, n);
        _t1 = HostTensor.Zeros(DType.F32, n);
        _t2 = HostTensor.Zeros(DType.F32, n);
        HostTensor[] pinned = [.. _inputs, _tpOut, _tpBlockedOut, _ortOut, _t1, _t2];
        _pins = [.. pinned.Select(t => t.Data.Pin())];
        _x = (float*)_pins[0].Pointer;
        _w = (float*)_pins[1].Pointer;
        _b = (float*)_pins[2].Pointer;
        _tp = (float*)_pins[3].Pointer;
        _tpBlocked = (float*)_pins[4].Pointer;
        _tmp1 = (float*)_pins[6].Pointer;
        _tmp2 = (float*)_pins[7].Pointer;

        _options = new SessionOptions
        {
            IntraOpNumThreads = Threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        var model = new OnnxGraph()
            .Input("x", n).Input("w", n).Input("b", n)
            .Node("Mul", "xw", "x", "w")
            .Node("Add", "z", "xw", "b")
            .Node("Gelu", "g", "z")
            .Node("Sigmoid", "s", "x")
            .Node("Mul", "y", "g", "s")
            .Output("y", n)
            .ToModel(opset: 20);
        _session = new InferenceSession(model, _options);
        _runOptions = new RunOptions();
        OrtValue Wrap(int pin) => OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float, [n], (nint)_pins[pin].Pointer, (long)n * sizeof(float));
        _ortInputs = [Wrap(0), Wrap(1), Wrap(2)];
        _ortOutputs = [Wrap(5)];

        CrossCheck();
    }

    private void CrossCheck()
    {
        CandleFused();
        CandleUnfused();
        TensorPrimitivesSequence();
        TensorPrimitivesBlocked();
        OnnxRuntime();
        var reference = _fusedOut[0].ToFloat32();
        string Diff(HostTensor t)
        {
            var s = t.AsSpan<float>();
            float d = 0;
            for (int i = 0; i < s.Length; i++) d = MathF.Max(d, MathF.Abs(s[i] - reference[i]));
            return d.ToString("g3", System.Globalization.CultureInfo.InvariantCulture);
        }

        Console.WriteLine($"// {N}: max |difference| from the fused plan: O0 {Diff(_unfusedOut[0])}, TensorPrimitives {Diff(_tpOut)}, blocked {Diff(_tpBlockedOut)}, ORT {Diff(_ortOut)}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var v in _ortInputs.Concat(_ortOutputs)) v.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
        _options.Dispose();
        foreach (var p in _pins) p.Dispose();
    }

    [Benchmark(Baseline = true, Description = "Candle O2 (fused)")]
    public void CandleFused() => _fused.RunInto(_inputs, _fusedOut);

    [Benchmark(Description = "Candle O0 (unfused)")]
    public void CandleUnfused() => _unfused.RunInto(_inputs, _unfusedOut);

    [Benchmark(Description = "TensorPrimitives sequence")]
    public void TensorPrimitivesSequence()
    {
        int half = N.Length / 2;
        Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = Threads }, part =>
        {
            int start = part * half, length = part == 1 ? N.Length - half : half;
            Chain(_x + start, _w + start, _b + start, _tmp1 + start, _tmp2 + start, _tp + start, length);
        });
    }

    [Benchmark(Description = "TensorPrimitives, 16K blocks")]
    public void TensorPrimitivesBlocked()
    {
        int blocks = (N.Length + Block - 1) / Block;
        Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, part =>
        {
            float* t1 = _tmp1 + ((long)part * Block), t2 = _tmp2 + ((long)part * Block);
            for (int blk = part; blk < blocks; blk += Threads)
            {
                int start = blk * Block, length = Math.Min(Block, N.Length - start);
                Chain(_x + start, _w + start, _b + start, t1, t2, _tpBlocked + start, length);
            }
        });
    }

    [Benchmark(Description = "control: Candle O2 x*w+b")]
    public void CandleAffineControl() => _affine.RunInto(_inputs, _affineOut);

    [Benchmark(Description = "ONNX Runtime")]
    public void OnnxRuntime() => _session.Run(_runOptions, ["x", "w", "b"], _ortInputs, ["y"], _ortOutputs);

    // gelu_tanh(z) * sigmoid(x) with z = x*w + b, as TensorPrimitives calls over temporaries t1, t2.
    private static void Chain(float* x, float* w, float* b, float* t1, float* t2, float* y, int n)
    {
        var xs = new ReadOnlySpan<float>(x, n);
        var z = new Span<float>(t1, n);
        var u = new Span<float>(t2, n);
        var o = new Span<float>(y, n);
        TensorPrimitives.MultiplyAdd(xs, new ReadOnlySpan<float>(w, n), new ReadOnlySpan<float>(b, n), z);
        TensorPrimitives.Multiply(z, z, u);
        TensorPrimitives.Multiply(u, 0.044715f * GeluTanhScale, u);
        TensorPrimitives.Add(u, GeluTanhScale, u);
        TensorPrimitives.Multiply(u, z, u);
        TensorPrimitives.Tanh(u, u);
        TensorPrimitives.Add(u, 1f, u);
        TensorPrimitives.Multiply(u, z, u);
        TensorPrimitives.Multiply(u, 0.5f, u);
        TensorPrimitives.Sigmoid(xs, z);
        TensorPrimitives.Multiply(u, z, o);
    }
}
