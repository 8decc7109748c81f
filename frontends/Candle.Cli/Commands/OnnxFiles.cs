using Candle.Compiler.Backends;
using Candle.Compiler.Ir;
using Candle.Onnx;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;

namespace Candle.Cli.Commands;

/// <summary><c>inspect</c> and <c>eval</c> of <c>.onnx</c> files: inputs and outputs under the graph's own names, dtypes kept.</summary>
internal static class OnnxFiles
{
    /// <summary>True for a path that names an ONNX file.</summary>
    public static bool IsOnnx(string path) => path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) && File.Exists(path);

    /// <summary>Prints the producer, opsets, inputs, outputs and op counts.</summary>
    public static int Inspect(CliContext ctx, string path)
    {
        var info = OnnxModelInfo.Read(path);
        ctx.Out.WriteLine($"{CliText.Escape(path)}: onnx, ir_version {info.IrVersion}, producer {(info.Producer.Length == 0 ? "?" : CliText.Escape(info.Producer))}, {info.InitializerCount} initializers");
        ctx.Out.WriteLine($"  opsets {string.Join(", ", info.Opsets.Select(o => $"{o.DisplayDomain} {o.Version}"))}");
        foreach (var i in info.Inputs) ctx.Out.WriteLine($"  input  {CliText.Escape(i.ToString())}");
        foreach (var o in info.Outputs) ctx.Out.WriteLine($"  output {CliText.Escape(o.ToString())}");
        foreach (var kv in info.OpCounts) ctx.Out.WriteLine($"  op {CliText.Escape(kv.Key)}\t{kv.Value}");
        ctx.Out.WriteLine($"{info.OpCounts.Values.Sum()} nodes");
        return 0;
    }

    /// <summary>
    /// Runs the model on the inputs of a safetensors file, or of an ONNX test data directory (<c>input_0.pb</c>,
    /// <c>input_1.pb</c>, ... for the graph's inputs in order), and writes its outputs under the graph's output names.
    /// </summary>
    public static int Eval(CliContext ctx, string modelPath, string inputsPath, string outPath, IBackend backend, CompileOptions options)
    {
        var given = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        if (Directory.Exists(inputsPath))
        {
            var graphInputs = OnnxModelInfo.Read(modelPath).Inputs;
            for (int k = 0; File.Exists(Path.Combine(inputsPath, $"input_{k}.pb")); k++)
            {
                if (k >= graphInputs.Count) throw new ArgumentException($"{inputsPath}: input_{k}.pb, but {modelPath} has {graphInputs.Count} inputs");
                given[graphInputs[k].Name] = OnnxTensorFile.Read(Path.Combine(inputsPath, $"input_{k}.pb"));
            }

            if (given.Count == 0) throw new ArgumentException($"{inputsPath}: a directory of inputs holds input_0.pb, input_1.pb, ... (an ONNX test data set); this one has none");
        }
        else
        {
            using var file = SafeTensorsFile.Open(inputsPath);
            foreach (string name in file.Names) given[name] = file.Get(name).Clone();
        }

        var results = OnnxEvaluation.Run(modelPath, given, backend, options, inputsPath);
        // Outputs of the types the IR carries in wider dtypes (uint16, float8, ...) are written in their declared dtype.
        var entries = OnnxDeclaredOutputs.ForSafeTensors(OnnxModelInfo.Read(modelPath), results);
        SafeTensorsWriter.WriteEntries(outPath, entries);
        ctx.Out.WriteLine($"wrote {string.Join(", ", entries.Select(e => $"{e.Name} {e.DType}[{string.Join(", ", e.Shape)}]"))} to {outPath}");
        return 0;
    }
}
