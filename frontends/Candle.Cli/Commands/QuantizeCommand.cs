using System.CommandLine;
using System.Globalization;
using Candle.Runtime.Kernels.Quant;
using Candle.Transformers.Quantization;
using Spectre.Console;

namespace Candle.Cli.Commands;

/// <summary>
/// <c>candle quantize &lt;in.gguf | hf-dir&gt; &lt;out.gguf&gt; &lt;TYPE&gt; [--pure]</c>: writes a llama model as a quantized GGUF file
/// with llama.cpp's per-tensor choices for the type (F32, F16, BF16, Q4_0 … Q8_0, Q2_K, Q3_K_M, Q4_K_M, Q5_K_M, Q6_K, IQ4_NL, IQ4_XS).
/// </summary>
internal static class QuantizeCommand
{
    public static Command Create(CliContext ctx)
    {
        var input = new Argument<string>("input") { Description = "a llama GGUF file or a Hugging Face Llama model directory" };
        var output = new Argument<string>("output") { Description = "the GGUF file to write" };
        var type = new Argument<string>("type") { Description = $"one of {string.Join(", ", QuantizePreset.All.Select(p => p.Name))} (Q3_K, Q4_K, Q5_K mean the _M mixes)" };
        var pure = new Option<bool>("--pure") { Description = "give every quantizable weight the type itself, without llama.cpp's per-tensor mix" };
        var cmd = new Command("quantize", "Quantize a llama model to a GGUF file as llama.cpp's llama-quantize does") { input, output, type, pure };
        cmd.SetAction(pr => ctx.Guard(() =>
        {
            var preset = QuantizePreset.Parse(pr.GetValue(type)!);
            string inPath = pr.GetValue(input)!;
            string outPath = pr.GetValue(output)!;
            ctx.SetStageQuietly($"quantizing to {preset.Name}");
            var result = CliProgress.Run(ctx, $"quantizing to {preset.Name}", task => GgufQuantizer.Quantize(inPath, outPath, preset, pr.GetValue(pure), p =>
            {
                if (task is null) return;
                task.MaxValue = p.Count;
                task.Value = p.Index;
                task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture, $"quantizing to {preset.Name}: [{p.Index}/{p.Count}] {p.Name} -> {GgmlTypeTraits.Name(p.Type)}"));
            }), (r, elapsed) => string.Create(CultureInfo.InvariantCulture, $"quantized {r.Tensors} tensors in {elapsed.TotalSeconds:F1} s"));
            ctx.Stage = "done";
            string types = string.Join(", ", result.Types.OrderBy(kv => kv.Key).Select(kv => $"{GgmlTypeTraits.Name(kv.Key)} {kv.Value}"));
            ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{CliText.Escape(outPath)}: {preset.Name}, {result.Tensors} tensors ({types}), {result.SourceBytes / 1048576.0:F2} MiB -> {result.OutputBytes / 1048576.0:F2} MiB"));
            return 0;
        }));
        return cmd;
    }
}
