using BenchmarkDotNet.Running;

namespace Candle.Perf;

/// <summary>
/// Runs the benchmark suites of this assembly; pick them with BenchmarkDotNet's switches, e.g.
/// <c>dotnet run -c Release -- --filter '*Sgemm*'</c> or <c>--list flat</c>. <c>llama-layer-report</c> prints the
/// decoder layer's kernel and arena table; <c>write-tinyllama DIR LAYERS VOCAB [f32|bf16|f16]</c> writes a random TinyLlama-shaped checkpoint;
/// <c>write-tinyllama-gguf FILE LAYERS VOCAB [q8_0|q4_0|f32|...]</c> writes the same shape as GGUF;
/// <c>gemv-compare [rounds]</c> alternates decode's one-row product over the stored and the packed weight;
/// <c>bf16-panels [rounds]</c> compares products over float32 and bfloat16 panels of one bfloat16 weight;
/// <c>plan-aot [model-dir]</c> times loading a saved plan against compiling from scratch;
/// <c>onnx-node-suite DIR</c> runs ONNX's backend node tests through the ONNX importer (see <see cref="OnnxSuite.OnnxNodeSuite"/>);
/// <c>sgemm-rate [rounds] [--threads N] [--baseline DIR]</c> gives the SGEMM's GFLOP/s beside ONNX Runtime's MatMul (see <see cref="Gemm.SgemmRate"/>);
/// <c>onnx-models</c> times MiniLM and ResNet-18 imported from ONNX beside ONNX Runtime (see <see cref="OnnxModels.OnnxModelLatency"/>);
/// <c>attention-timing [--lengths 128,512]</c> times causal grouped-query attention on transposed key blocks and on per-key dot products (see <see cref="LlamaCpp.AttentionTiming"/>).
/// <c>quant-gemm [--rows M]</c> times one quantized product on the packed panels, on the kernels they replace and as a packed float32 product (see <see cref="LlamaCpp.QuantGemmTiming"/>).
/// <c>quant-epilogue [--rows M,...]</c> times a Llama MLP block of quantized products with its epilogues fused and unfused (see <see cref="LlamaCpp.QuantEpilogueTiming"/>).
/// <c>quant-gemv [--mb MB] [q4_k]</c> times the Q4_0 (or other types') decode kernels on one matrix-vector product (see <see cref="LlamaCpp.QuantGemvTiming"/>).
/// <c>prompt-caching [LAYERS]</c> times a conversation's later turns' prefill with prompt caching and without (see <see cref="LlamaCpp.PromptCachingTiming"/>).
/// <c>plan-binding [LAYERS]</c> times binding a decode plan to new cache lengths, the host cost a generation pays per token (see <see cref="Dispatch.PlanBindingTiming"/>).
/// <c>prefill-chunks FILE [--chunks 0,128,256]</c> times a GGUF model's prefill in one step and in chunks (see <see cref="LlamaCpp.PrefillChunkTiming"/>).
/// <c>llamacpp-quant [--layers N] [--kv f16]</c> compares the quantized kernels with llama.cpp and the f32 path (see <see cref="LlamaCpp.QuantizedComparison"/>).
/// <c>llamacpp [--quick]</c> compares Candle with llama.cpp on the same GGUF files (see <see cref="LlamaCpp.LlamaCppComparison"/>);
/// <c>interleaved BEFORE_DIR AFTER_DIR [rounds]</c> times the dispatch and runtime-kernel benchmarks of two builds in one
/// process, alternating (see <see cref="Interleaved.InterleavedComparison"/>).
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        if (args is ["llama-layer-report"])
        {
            LlamaLayer.LlamaLayerReport.Write(Console.Out);
            return;
        }

        if (args is ["write-tinyllama", var directory, var layers, var vocab, .. var rest] && rest.Length <= 1)
        {
            var dtype = rest switch
            {
                [] or ["f32"] => Runtime.DType.F32,
                ["bf16"] => Runtime.DType.BF16,
                ["f16"] => Runtime.DType.F16,
                _ => throw new ArgumentException($"unknown dtype '{rest[0]}' (f32, bf16 or f16)"),
            };
            LlamaLayer.TinyLlamaCheckpoint.Write(directory, int.Parse(layers, System.Globalization.CultureInfo.InvariantCulture), int.Parse(vocab, System.Globalization.CultureInfo.InvariantCulture), dtype: dtype);
            return;
        }

        if (args is ["write-tinyllama-gguf", var file, var ggufLayers, var ggufVocab, .. var typeArg] && typeArg.Length <= 1)
        {
            var type = typeArg is [var t] ? Enum.Parse<Runtime.Kernels.Quant.GgmlType>(t, ignoreCase: true) : Runtime.Kernels.Quant.GgmlType.Q8_0;
            var root = new DirectoryInfo(AppContext.BaseDirectory);
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "Candle.Compiler.sln"))) root = root.Parent;
            string fixture = Path.Combine(root?.FullName ?? Directory.GetCurrentDirectory(), "tests", "fixtures", "gguf", "llama-q8_0.gguf");
            LlamaLayer.TinyLlamaCheckpoint.WriteGguf(file, int.Parse(ggufLayers, System.Globalization.CultureInfo.InvariantCulture), int.Parse(ggufVocab, System.Globalization.CultureInfo.InvariantCulture), type, fixture);
            return;
        }

        if (args is ["plan-aot", ..])
        {
            PlanAot.PlanAotReport.Run(args[1..]);
            return;
        }

        if (args is ["gemv-compare", .. var gemvRounds] && gemvRounds.Length <= 1)
        {
            Gemm.GemvBenchmarks.Compare(gemvRounds is [var r] ? int.Parse(r, System.Globalization.CultureInfo.InvariantCulture) : 200);
            return;
        }

        if (args is ["bf16-panels", .. var bfRounds] && bfRounds.Length <= 1)
        {
            Gemm.Bf16PanelComparison.Run(bfRounds is [var r] ? int.Parse(r, System.Globalization.CultureInfo.InvariantCulture) : 100);
            return;
        }

        if (args is ["sgemm-rate", .. var rateArgs])
        {
            Gemm.SgemmRate.Run(rateArgs);
            return;
        }

        if (args is ["onnx-models", ..])
        {
            OnnxModels.OnnxModelLatency.Run(args[1..]);
            return;
        }

        if (args is ["onnx-node-suite", ..])
        {
            OnnxSuite.OnnxNodeSuite.Run(args[1..]);
            return;
        }

        if (args is ["attention-timing", ..])
        {
            LlamaCpp.AttentionTiming.Run(args[1..]);
            return;
        }

        if (args is ["quant-gemm", ..])
        {
            LlamaCpp.QuantGemmTiming.Run(args[1..]);
            return;
        }

        if (args is ["quant-epilogue", ..])
        {
            LlamaCpp.QuantEpilogueTiming.Run(args[1..]);
            return;
        }

        if (args is ["quant-gemv", ..])
        {
            LlamaCpp.QuantGemvTiming.Run(args[1..]);
            return;
        }

        if (args is ["plan-binding", ..])
        {
            Dispatch.PlanBindingTiming.Run(args[1..]);
            return;
        }

        if (args is ["prompt-caching", ..])
        {
            LlamaCpp.PromptCachingTiming.Run(args[1..]);
            return;
        }

        if (args is ["prefill-chunks", ..])
        {
            LlamaCpp.PrefillChunkTiming.Run(args[1..]);
            return;
        }

        if (args is ["llamacpp-quant", ..])
        {
            LlamaCpp.QuantizedComparison.Run(args[1..]);
            return;
        }

        if (args is ["interleaved", ..])
        {
            Interleaved.InterleavedComparison.Run(args[1..]);
            return;
        }

        if (args is ["llamacpp", ..])
        {
            LlamaCpp.LlamaCppComparison.Run(args[1..]);
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
