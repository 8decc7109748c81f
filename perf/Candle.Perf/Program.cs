using BenchmarkDotNet.Running;

namespace Candle.Perf;

/// <summary>
/// Runs the benchmark suites of this assembly; pick them with BenchmarkDotNet's switches, e.g.
/// <c>dotnet run -c Release -- --filter '*Sgemm*'</c> or <c>--list flat</c>. <c>llama-layer-report</c> prints the
/// decoder layer's kernel and arena table; <c>write-tinyllama DIR LAYERS VOCAB</c> writes a random TinyLlama-shaped checkpoint;
/// <c>plan-aot [model-dir]</c> times loading a saved plan against compiling from scratch;
/// <c>llamacpp [--quick]</c> compares Candle with llama.cpp on the same GGUF files (see <see cref="LlamaCpp.LlamaCppComparison"/>).
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

        if (args is ["write-tinyllama", var directory, var layers, var vocab])
        {
            LlamaLayer.TinyLlamaCheckpoint.Write(directory, int.Parse(layers, System.Globalization.CultureInfo.InvariantCulture), int.Parse(vocab, System.Globalization.CultureInfo.InvariantCulture));
            return;
        }

        if (args is ["plan-aot", ..])
        {
            PlanAot.PlanAotReport.Run(args[1..]);
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
