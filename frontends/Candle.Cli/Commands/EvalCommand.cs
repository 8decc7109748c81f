using System.CommandLine;
using Candle.Compiler.Backends;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;

namespace Candle.Cli.Commands;

/// <summary>
/// <c>candle eval &lt;model&gt; --inputs in.safetensors --out out.safetensors [--device cpu|reference]</c>:
/// one forward pass on named inputs, outputs written under transformers' names as float32; for an <c>.onnx</c> file,
/// inputs and outputs are named as the ONNX graph's and keep their dtypes.
/// </summary>
internal static class EvalCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new ModelInput("a Hugging Face model directory, a llama GGUF file or an .onnx file");
        var inputs = new Option<string>("--inputs") { Description = "safetensors file with input_ids, attention_mask, ... as transformers names them (for an .onnx model: the graph's input names, or an ONNX test data directory of input_0.pb, ...)", Required = true };
        var output = new Option<string>("--out") { Description = "safetensors file to write (logits, last_hidden_state, ...)", Required = true };
        var device = DeviceOption.Create();
        var allowUnused = LoadOption.Create();
        var dequantize = new Option<bool>("--dequantize")
        {
            Description = "dequantize a GGUF file's quantized matrices to float32 at load instead of multiplying them with the quantized kernels",
        };
        var cmd = new Command("eval", "Run a model's forward pass on tensors from a file") { model.Argument, model.Option, inputs, output, device, allowUnused, dequantize };
        cmd.SetAction(pr => ctx.Guard(() => Run(
            ctx, model.Resolve(pr), pr.GetValue(inputs)!, pr.GetValue(output)!, pr.GetValue(device)!,
            LoadOption.Resolve(pr.GetValue(allowUnused)) with { DequantizeWeights = pr.GetValue(dequantize) })));
        return cmd;
    }

    private static int Run(CliContext ctx, string modelDir, string inputsPath, string outPath, string device, ModelLoadOptions loadOptions)
    {
        var backend = DeviceOption.Resolve(device);
        if (OnnxFiles.IsOnnx(modelDir)) return OnnxFiles.Eval(ctx, modelDir, inputsPath, outPath, backend, DeviceOption.Options(device));
        ctx.Stage = "loading the model";
        var model = ModelRegistry.Load(modelDir, loadOptions);
        ctx.Stage = "reading the inputs";
        var given = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        using (var file = SafeTensorsFile.Open(inputsPath))
        {
            foreach (string name in file.Names)
            {
                given[name] = file.Get(name).Clone();
            }
        }

        // A causal LM honours a padding mask when the inputs give one (transformers' forward with attention_mask).
        var graph = model is ICausalLanguageModel lm && given.ContainsKey(DecoderGraphNames.AttentionMask)
            ? lm.TraceForwardWithAttentionMask()
            : model.TraceForward();

        var args = new List<HostTensor>();
        foreach (var input in graph.Inputs)
        {
            string name = input.Attr<Compiler.Ir.InputAttrs>().Name;
            var t = given.TryGetValue(name, out var v) ? v : model.DefaultInput(name, given)
                ?? throw new ArgumentException($"{inputsPath}: missing input '{name}' ({input.TypeString}); the file has {string.Join(", ", given.Keys)}");
            t = InputChecks.Convert(inputsPath, name, t, input.DType);
            if (t.Rank != input.Shape.Rank)
            {
                throw new ArgumentException($"{inputsPath}: input '{name}' has shape [{string.Join(", ", t.Shape)}], but the model takes {input.TypeString}");
            }

            InputChecks.Finite(inputsPath, name, t);
            if (name == DecoderGraphNames.InputIds && model is ICausalLanguageModel causal) InputChecks.TokenIds(inputsPath, name, t, causal.VocabSize);

            args.Add(t);
        }

        ctx.Stage = "compiling the model";
        using var exe = backend.Compile(graph, DeviceOption.Options(device));
        ctx.Stage = "running the model";
        var results = exe.Run(args);
        ctx.Stage = "writing the outputs";
        var named = graph.OutputNames.Zip(results, (n, r) => new KeyValuePair<string, HostTensor>(n, r.DType == DType.F32 ? r : r.Cast(DType.F32)));
        SafeTensorsWriter.Write(outPath, named);
        ctx.Out.WriteLine($"wrote {string.Join(", ", graph.OutputNames.Zip(results, (n, r) => $"{n} [{string.Join(", ", r.Shape)}]"))} to {outPath}");
        return 0;
    }
}
