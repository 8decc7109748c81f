using System.CommandLine;
using System.Text.Json;
using Candle.Compiler.Autodiff;
using Candle.Transformers.Models;
using Candle.Transformers.Training;

namespace Candle.Cli.Commands;

/// <summary>
/// <c>candle train &lt;model-dir&gt; --data batch.safetensors --steps N --optimizer adamw|adam|sgd --lr … [--momentum …]
/// [--weight-decay …] [--nesterov] [--max-grad-norm …] [--schedule constant|linear|cosine --warmup …] --out losses.json
/// [--save dir]</c>: N compiled train steps of a causal LM on one batch; writes the loss before each step and after the
/// last (as PyTorch's train.json lists them) and optionally the trained parameters and optimizer state.
/// </summary>
internal static class TrainCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new Argument<string>("model") { Description = "a Hugging Face causal LM directory" };
        var data = new Option<string>("--data") { Description = "safetensors file with input_ids (and labels) [batch, seq]", Required = true };
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
        var device = DeviceOption.Create();
        var cmd = new Command("train", "Train a causal LM on a batch with a compiled train step")
        {
            model, data, steps, optimizer, lr, momentum, weightDecay, nesterov, maxNorm, schedule, warmup, output, save, device,
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
            var batch = TrainingData.Read(pr.GetValue(data)!);
            using var trainer = new LanguageModelTrainer(ModelRegistry.Load(pr.GetValue(model)!), opt, DeviceOption.Resolve(pr.GetValue(device)!), sched, pr.GetValue(maxNorm));
            var losses = new List<double>();
            for (int s = 0; s < n; s++)
            {
                losses.Add(trainer.Step(batch["input_ids"], batch["labels"]));
                ctx.Out.WriteLine($"step {s + 1}: loss {losses[^1]:G9}");
            }

            losses.Add(trainer.Loss(batch["input_ids"], batch["labels"]));
            ctx.Out.WriteLine($"after step {n}: loss {losses[^1]:G9}");
            File.WriteAllText(pr.GetValue(output)!, JsonSerializer.Serialize(new Dictionary<string, object> { [pr.GetValue(optimizer)!] = losses }));
            if (pr.GetValue(save) is { } dir) trainer.Save(dir);
            return 0;
        }));
        return cmd;
    }
}
