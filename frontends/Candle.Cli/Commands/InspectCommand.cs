using System.CommandLine;
using Candle.Runtime;
using Candle.Runtime.Weights.SafeTensors;

namespace Candle.Cli.Commands;

/// <summary><c>candle inspect &lt;file&gt;</c>: tensors and metadata of a safetensors or GGUF file; inputs, outputs, opsets and op counts of an ONNX file.</summary>
internal static class InspectCommand
{
    public static Command Create(CliContext ctx)
    {
        var file = new Argument<string>("file") { Description = "a .safetensors, .gguf or .onnx file (or a model directory)" };
        var cmd = new Command("inspect", "List the tensors and metadata of a safetensors or GGUF file") { file };
        cmd.SetAction(pr => ctx.Guard(() => Run(ctx, pr.GetValue(file)!)));
        return cmd;
    }

    private static int Run(CliContext ctx, string path)
    {
        if (!File.Exists(path) && !Directory.Exists(path)) throw new FileNotFoundException($"{path}: no such file");
        if (OnnxFiles.IsOnnx(path))
        {
            return OnnxFiles.Inspect(ctx, path);
        }

        if (File.Exists(path) && WeightFiles.IsGguf(path))
        {
            return WeightFiles.InspectGguf(ctx, path);
        }

        using var st = SafeTensorsCheckpoint.Open(path);
        ctx.Out.WriteLine($"{CliText.Escape(path)}: safetensors, {st.Names.Count} tensors");
        foreach (var kv in st.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            ctx.Out.WriteLine($"  metadata {CliText.Escape(kv.Key)} = {CliText.Escape(kv.Value)}");
        }

        long total = 0;
        foreach (string name in st.Names)
        {
            var info = st.GetInfo(name);
            total += info.Length;
            ctx.Out.WriteLine($"  {CliText.Escape(name)}\t{info.DType.SafeTensorsName()}\t[{string.Join(", ", info.Shape)}]\t{info.Length} bytes");
        }

        ctx.Out.WriteLine($"total {total} bytes");
        return 0;
    }
}
