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

    /// <summary>Runs the model on the inputs of a safetensors file and writes its outputs under the graph's output names.</summary>
    public static int Eval(CliContext ctx, string modelPath, string inputsPath, string outPath, IBackend backend)
    {
        var given = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        using (var file = SafeTensorsFile.Open(inputsPath))
        {
            foreach (string name in file.Names) given[name] = file.Get(name).Clone();
        }

        var declared = OnnxModelInfo.Read(modelPath).Inputs;
        foreach (var input in declared)
        {
            if (!given.ContainsKey(input.Name))
            {
                throw new ArgumentException($"{inputsPath}: missing input '{input.Name}' ({input}); the file has {(given.Count == 0 ? "no tensors" : string.Join(", ", given.Keys))}");
            }
        }

        // Small int64 inputs (shapes, axes) are fixed at import so that the shape computations reading them fold.
        var fixedInputs = declared.Select(d => d.Name).Where(n => OnnxImportOptions.IsShapeLike(given[n])).ToDictionary(n => n, n => given[n], StringComparer.Ordinal);
        var graph = OnnxModel.Load(modelPath, new OnnxImportOptions { ConstantInputs = fixedInputs }).Graph;

        var args = new List<HostTensor>();
        foreach (var input in graph.Inputs)
        {
            string name = input.Attr<InputAttrs>().Name;
            var t = given[name];
            if (t.DType != input.DType) throw new ArgumentException($"{inputsPath}: input '{name}' is {t.DType.TorchName()}, but the model declares {input.TypeString}");
            if (t.Rank != input.Shape.Rank || input.Shape.Where((d, i) => d.IsConstant && d.Value != t.Shape[i]).Any())
            {
                throw new ArgumentException($"{inputsPath}: input '{name}' has shape [{string.Join(", ", t.Shape)}], but the model declares {input.TypeString}");
            }

            args.Add(t);
        }

        using var exe = backend.Compile(graph, CompileOptions.Default);
        var results = exe.Run(args);
        SafeTensorsWriter.Write(outPath, graph.OutputNames.Zip(results, (n, r) => new KeyValuePair<string, HostTensor>(n, r)));
        ctx.Out.WriteLine($"wrote {string.Join(", ", graph.OutputNames.Zip(results, (n, r) => $"{n} {r.DType.TorchName()}[{string.Join(", ", r.Shape)}]"))} to {outPath}");
        return 0;
    }
}
