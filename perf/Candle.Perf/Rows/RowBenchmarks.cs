using System.Buffers;
using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using Candle.Compiler.Ir;
using Candle.Perf.Elementwise;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Candle.Perf.Rows;

/// <summary>
/// Softmax and RMS norm over the rows of a float32 matrix on two threads: Candle's plan (O2; one softmax or
/// rms_norm kernel), TensorPrimitives per row (SoftMax; SumOfSquares then two Multiply calls) split over two threads,
/// and ONNX Runtime (Softmax at opset 13; SimplifiedLayerNormalization, ONNX Runtime's RMS norm op, where the
/// installed version accepts it). GB/s counts the matrix read once and written once.
/// </summary>
[Config(typeof(BandwidthConfig))]
public unsafe class RowBenchmarks
{
    private const int Threads = 2;
    private const float Eps = 1e-5f;

    private Plan _plan = null!;
    private HostTensor[] _inputs = [];
    private HostTensor[] _candleOut = [];
    private HostTensor _tpOut = null!;
    private HostTensor _ortOut = null!;
    private MemoryHandle[] _pins = [];
    private float* _x;
    private float* _g;
    private float* _tp;
    private InferenceSession? _session;
    private string _ortNote = string.Empty;
    private SessionOptions _options = null!;
    private RunOptions _runOptions = null!;
    private OrtValue[] _ortInputs = [];
    private OrtValue[] _ortOutputs = [];

    public static IEnumerable<RowCase> Cases =>
    [
        new(RowOp.Softmax, 4096, 4096),
        new(RowOp.Softmax, 512, 32000),
        new(RowOp.RmsNorm, 4096, 4096),
        new(RowOp.RmsNorm, 512, 32000),
    ];

    [ParamsSource(nameof(Cases))]
    public RowCase Case { get; set; } = new(RowOp.Softmax, 4096, 4096);

    [GlobalSetup]
    public void Setup()
    {
        int rows = Case.Rows, cols = Case.Cols;
        var x = IrBuilder.Input("x", DType.F32, Shape.Of(rows, cols));
        var g = IrBuilder.Input("g", DType.F32, Shape.Of(cols));
        var graph = Case.Op == RowOp.Softmax
            ? new Graph([x], [IrBuilder.Softmax(x, -1)], ["y"])
            : new Graph([x, g], [IrBuilder.RmsNorm(x, g, Eps)], ["y"]);
        _plan = CandlePlans.Compile(graph, 2, Threads);

        var rng = new Random(5);
        var xt = HostTensor.Zeros(DType.F32, rows, cols);
        var xs = xt.AsSpan<float>();
        for (int i = 0; i < xs.Length; i++) xs[i] = (float)((rng.NextDouble() * 8) - 4);
        var gt = HostTensor.Zeros(DType.F32, cols);
        var gs = gt.AsSpan<float>();
        for (int i = 0; i < gs.Length; i++) gs[i] = (float)(0.5 + rng.NextDouble());
        _inputs = Case.Op == RowOp.Softmax ? [xt] : [xt, gt];
        _candleOut = [HostTensor.Zeros(DType.F32, rows, cols)];
        _tpOut = HostTensor.Zeros(DType.F32, rows, cols);
        _ortOut = HostTensor.Zeros(DType.F32, rows, cols);
        _pins = [xt.Data.Pin(), gt.Data.Pin(), _tpOut.Data.Pin(), _ortOut.Data.Pin()];
        _x = (float*)_pins[0].Pointer;
        _g = (float*)_pins[1].Pointer;
        _tp = (float*)_pins[2].Pointer;

        _options = new SessionOptions
        {
            IntraOpNumThreads = Threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _runOptions = new RunOptions();
        OrtValue Wrap(int pin, params long[] shape) =>
            OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float, shape, (nint)_pins[pin].Pointer, shape.Aggregate(1L, (a, d) => a * d) * sizeof(float));
        try
        {
            if (Case.Op == RowOp.Softmax)
            {
                var model = new OnnxGraph().Input("x", rows, cols).Node("Softmax", "y", "x").Output("y", rows, cols).ToModel(opset: 13);
                _session = new InferenceSession(model, _options);
                _ortInputs = [Wrap(0, rows, cols)];
            }
            else
            {
                var model = new OnnxGraph().Input("x", rows, cols).Input("g", cols).Node("SimplifiedLayerNormalization", "y", "x", "g").Output("y", rows, cols).ToModel(opset: 13);
                _session = new InferenceSession(model, _options);
                _ortInputs = [Wrap(0, rows, cols), Wrap(1, cols)];
            }

            _ortOutputs = [Wrap(3, rows, cols)];
        }
        catch (OnnxRuntimeException e)
        {
            _session = null;
            _ortNote = e.Message;
            Console.WriteLine($"// {Case}: ONNX Runtime does not run this op here: {e.Message}");
        }

        CrossCheck();
    }

    private void CrossCheck()
    {
        Candle();
        TensorPrimitivesRows();
        var reference = _candleOut[0].ToFloat32();
        string Diff(HostTensor t)
        {
            var s = t.ToFloat32();
            float d = 0;
            for (int i = 0; i < s.Length; i++) d = MathF.Max(d, MathF.Abs(s[i] - reference[i]));
            return d.ToString("g3", System.Globalization.CultureInfo.InvariantCulture);
        }

        string ort = "n/a";
        if (_session is not null)
        {
            OnnxRuntime();
            ort = Diff(_ortOut);
        }

        Console.WriteLine($"// {Case}: max |difference| from Candle: TensorPrimitives {Diff(_tpOut)}, ORT {ort}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var v in _ortInputs.Concat(_ortOutputs)) v.Dispose();
        _runOptions.Dispose();
        _session?.Dispose();
        _options.Dispose();
        foreach (var p in _pins) p.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void Candle() => _plan.RunInto(_inputs, _candleOut);

    [Benchmark(Description = "TensorPrimitives rows")]
    public void TensorPrimitivesRows()
    {
        int rows = Case.Rows, cols = Case.Cols;
        bool softmax = Case.Op == RowOp.Softmax;
        Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, part =>
        {
            int begin = (int)((long)rows * part / Threads), end = (int)((long)rows * (part + 1) / Threads);
            var gamma = new ReadOnlySpan<float>(_g, cols);
            for (int r = begin; r < end; r++)
            {
                var row = new ReadOnlySpan<float>(_x + ((long)r * cols), cols);
                var dst = new Span<float>(_tp + ((long)r * cols), cols);
                if (softmax)
                {
                    TensorPrimitives.SoftMax(row, dst);
                }
                else
                {
                    float scale = 1f / MathF.Sqrt((TensorPrimitives.SumOfSquares(row) / cols) + Eps);
                    TensorPrimitives.Multiply(row, scale, dst);
                    TensorPrimitives.Multiply(dst, gamma, dst);
                }
            }
        });
    }

    [Benchmark(Description = "ONNX Runtime")]
    public void OnnxRuntime()
    {
        if (_session is null) throw new NotSupportedException($"ONNX Runtime: {_ortNote}");
        if (_ortInputs.Length == 1)
        {
            _session.Run(_runOptions, ["x"], _ortInputs, ["y"], _ortOutputs);
        }
        else
        {
            _session.Run(_runOptions, ["x", "g"], _ortInputs, ["y"], _ortOutputs);
        }
    }
}
