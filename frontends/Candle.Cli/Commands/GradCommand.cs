using System.CommandLine;
using Candle.Compiler.Backends;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Transformers.Models;
using Candle.Transformers.Training;

namespace Candle.Cli.Commands;

/// <summary>
/// <c>candle grad &lt;model-dir&gt; --inputs train-inputs.safetensors --out grads.safetensors [--device cpu|reference]</c>:
/// a model's training loss (see <see cref="TrainingObjective"/>: causal LMs, ViT image classifiers, Whisper, BERT task heads) on a batch
/// and its gradient with respect to every parameter, written as <c>loss</c> and <c>grad.{checkpoint name}</c>.
/// </summary>
internal static class GradCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new ModelInput("a Hugging Face model directory (a causal LM, ViTForImageClassification, Whisper, or BertForSequenceClassification, BertForTokenClassification, BertForMaskedLM)");
        var inputs = new Option<string>("--inputs") { Description = TrainingData.KeysHelp, Required = true };
        var output = new Option<string>("--out") { Description = "safetensors file to write (loss, grad.<parameter>)", Required = true };
        var device = DeviceOption.Create();
        var cmd = new Command("grad", "Compute a model's training loss (as transformers computes it given labels) and its parameter gradients on a batch") { model.Argument, model.Option, inputs, output, device };
        cmd.SetAction(pr => ctx.Guard(() => Run(ctx, model.Resolve(pr), pr.GetValue(inputs)!, pr.GetValue(output)!, pr.GetValue(device)!)));
        return cmd;
    }

    private static int Run(CliContext ctx, string modelDir, string inputsPath, string outPath, string device)
    {
        var backend = DeviceOption.Resolve(device);
        var model = ModelRegistry.Load(modelDir);
        // The batch first: its labels settle a sequence classifier's problem type when the config leaves it unset.
        var batch = TrainingData.Read(inputsPath, model);
        var graph = TrainingObjective.TraceGradients(model);
        var args = graph.Inputs.Select(i => batch[i.Attr<InputAttrs>().Name]).ToArray();
        using var exe = backend.Compile(graph, DeviceOption.Options(device));
        var results = exe.Run(args);
        SafeTensorsWriter.Write(outPath, graph.OutputNames.Zip(results, (n, r) => new KeyValuePair<string, HostTensor>(n, r.DType == DType.F32 ? r : r.Cast(DType.F32))));
        ctx.Out.WriteLine($"loss {results[0].GetDouble(0):G9}; wrote loss and {results.Length - 1} gradients to {outPath}");
        return 0;
    }
}
