using System.CommandLine;
using System.Text.Json;
using Candle.Compiler.Autodiff;
using Candle.Transformers.Models;
using Candle.Transformers.Training;

namespace Candle.Cli.Commands;

/// <summary>
/// <c>candle train &lt;model-dir&gt; --data batch.safetensors --steps N --optimizer adamw|adam|sgd --lr … [--momentum …]
/// [--weight-decay …] [--nesterov] [--max-grad-norm …] [--schedule constant|linear|cosine --warmup …] --out losses.json
/// [--accumulate K] [--resume dir] [--save dir]</c>: N compiled train steps of a model (see <see cref="TrainingObjective"/>)
/// on one batch, optionally split into K micro-batches whose gradients accumulate before each update; writes the loss
/// before each step and after the last (as PyTorch's train.json lists them) and optionally the trained parameters and
/// optimizer state, from which <c>--resume</c> continues.
/// </summary>
internal static class TrainCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new ModelInput("a Hugging Face model directory (a causal LM, ViTForImageClassification, Whisper, or BertForSequenceClassification, BertForTokenClassification, BertForMaskedLM)");
        var data = new Option<string>("--data") { Description = TrainingData.KeysHelp, Required = true };
        var steps = new Option<int>("--steps") { Description = "number of optimizer steps", DefaultValueFactory = _ => 10 };
        var optimizer = new Option<string>("--optimizer") { Description = "adamw, adam or sgd", DefaultValueFactory = _ => "adamw" };
        var lr = new Option<double>("--lr") { Description = "learning rate", DefaultValueFactory = _ => 1e-3 };
        var momentum = new Option<double>("--momentum") { Description = "SGD momentum", DefaultValueFactory = _ => 0 };
        var weightDecay = new Option<double?>("--weight-decay") { Description = "weight decay (AdamW's default 0.01, else 0)" };
        var nesterov = new Option<bool>("--nesterov") { Description = "SGD with Nesterov momentum" };
        var maxNorm = new Option<double?>("--max-grad-norm") { Description = "clip the gradients' global norm to this value" };
        var schedule = new Option<string>("--schedule") { Description = "constant, linear or cosine", DefaultValueFactory = _ => "constant" };
        var warmup = new Option<int>("--warmup") { Description = "warmup steps of the schedule", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "JSON file for the losses", Required = true };
        var save = new Option<string?>("--save") { Description = "directory for the trained model.safetensors and optimizer.safetensors" };
        var accumulate = new Option<int>("--accumulate") { Description = "split the batch into K equal micro-batches and accumulate their mean gradient before each update", DefaultValueFactory = _ => 1 };
        var resume = new Option<string?>("--resume") { Description = "directory a --save wrote: continue from its parameters, optimizer state and step count" };
        var device = DeviceOption.Create();
        var cmd = new Command("train", "Train a model (causal LM, ViT image classifier, Whisper, BERT task head) on a batch with a compiled train step")
        {
            model.Argument, model.Option, data, steps, optimizer, lr, momentum, weightDecay, nesterov, maxNorm, schedule, warmup, output, save, accumulate, resume, device,
        };
        cmd.SetAction(pr => ctx.Guard(() =>
        {
            int n = pr.GetValue(steps);
            if (n < 1) throw new ArgumentException($"--steps must be ≥ 1, got {n}");
            double rate = pr.GetValue(lr);
            double? wd = pr.GetValue(weightDecay);
            Optimizer opt = pr.GetValue(optimizer) switch
            {
                "adamw" => new AdamW(rate, weightDecay: wd ?? 0.01),
                "adam" => new Adam(rate, weightDecay: wd ?? 0),
                "sgd" => new Sgd(rate, pr.GetValue(momentum), weightDecay: wd ?? 0, nesterov: pr.GetValue(nesterov)),
                var o => throw new ArgumentException($"--optimizer: unknown optimizer '{o}' (adamw, adam, sgd)"),
            };
            var sched = pr.GetValue(schedule) switch
            {
                "constant" => LearningRateSchedule.Constant,
                "linear" => LearningRateSchedule.Linear(pr.GetValue(warmup), n),
                "cosine" => LearningRateSchedule.Cosine(pr.GetValue(warmup), n),
                var s => throw new ArgumentException($"--schedule: unknown schedule '{s}' (constant, linear, cosine)"),
            };
            var loaded = ModelRegistry.Load(model.Resolve(pr));
            var batch = TrainingData.Read(pr.GetValue(data)!, loaded);
            int k = pr.GetValue(accumulate);
            int rows = batch["labels"].Shape[0];
            if (k < 1 || rows % k != 0) throw new ArgumentException($"--accumulate must be ≥ 1 and divide the batch's {rows} rows, got {k}");
            var micro = Enumerable.Range(0, k).Select(i => (IReadOnlyDictionary<string, Runtime.Tensors.HostTensor>)TrainingObjective.Rows(batch, i * (rows / k), rows / k)).ToList();
            using var trainer = new LanguageModelTrainer(loaded, opt, DeviceOption.Resolve(pr.GetValue(device)!), sched, pr.GetValue(maxNorm), DeviceOption.Options(pr.GetValue(device)!));
            if (pr.GetValue(resume) is { } from) trainer.Load(from);
            var losses = new List<double>();
            for (int s = 0; s < n; s++)
            {
                losses.Add(k == 1 ? trainer.Step(batch) : trainer.Step(micro));
                ctx.Out.WriteLine($"step {trainer.StepsDone}: loss {losses[^1]:G9}");
            }

            losses.Add(trainer.Loss(batch));
            ctx.Out.WriteLine($"after step {trainer.StepsDone}: loss {losses[^1]:G9}");
            File.WriteAllText(pr.GetValue(output)!, JsonSerializer.Serialize(new Dictionary<string, object> { [pr.GetValue(optimizer)!] = losses }));
            if (pr.GetValue(save) is { } dir) trainer.Save(dir);
            return 0;
        }));
        return cmd;
    }
}
