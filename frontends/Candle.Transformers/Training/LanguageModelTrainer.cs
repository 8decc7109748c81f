using Candle.Compiler.Autodiff;
using Candle.Compiler.Backends;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Execution;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Transformers.Models;

namespace Candle.Transformers.Training;

/// <summary>
/// Trains a causal language model with one compiled <see cref="TrainStep"/> per step: the loss, the gradients and the
/// optimizer's update in one call, the parameters and optimizer state passed back in as the next step's donated
/// inputs. Starts from the checkpoint's parameters and zero optimizer state, as PyTorch's optimizers do.
/// </summary>
public sealed class LanguageModelTrainer : IDisposable
{
    private readonly TrainStep _step;
    private readonly IExecutable _stepExe;
    private readonly IExecutable _lossExe;
    private readonly Graph _lossGraph;
    private readonly LearningRateSchedule _schedule;
    private readonly Dictionary<string, HostTensor> _values = new(StringComparer.Ordinal);
    private int _stepsDone;

    /// <summary>Builds and compiles the step for <paramref name="model"/>.</summary>
    public LanguageModelTrainer(IPretrainedModel model, Optimizer optimizer, IBackend backend, LearningRateSchedule? schedule = null, double? maxGradNorm = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(backend);
        var loss = LanguageModelLoss.Trace(model);
        var parameters = LanguageModelLoss.Parameters(model, loss);
        _step = TrainStep.Build(loss, LanguageModelLoss.Loss, parameters, optimizer, maxGradNorm);
        _schedule = schedule ?? LearningRateSchedule.Constant;
        foreach (var (name, node) in parameters)
        {
            _values[name] = node.Attr<ConstantAttrs>().Data.Clone();
            foreach (var s in optimizer.StateNames) _values[TrainStep.StateInput(s, name)] = HostTensor.Zeros(node.DType, _values[name].ShapeArray());
        }

        var replace = parameters.ToDictionary(p => p.Node, p => IrBuilder.Input(p.Name, p.Node.DType, p.Node.Shape), (IEqualityComparer<Node>)ReferenceEqualityComparer.Instance);
        var rewritten = loss.Rewrite(n => replace.GetValueOrDefault(n));
        _lossGraph = new Graph([.. loss.Inputs, .. parameters.Select(p => replace[p.Node])], rewritten.Outputs, rewritten.OutputNames);
        _stepExe = backend.Compile(_step.Graph, CompileOptions.Default);
        _lossExe = backend.Compile(_lossGraph, CompileOptions.Default);
    }

    /// <summary>The current parameters by checkpoint name.</summary>
    public IReadOnlyDictionary<string, HostTensor> Parameters => _step.ParameterNames.ToDictionary(n => n, n => _values[n]);

    /// <summary>The optimizer state by <c>{state}.{parameter}</c>.</summary>
    public IReadOnlyDictionary<string, HostTensor> OptimizerState =>
        _step.ParameterNames.SelectMany(p => _step.Optimizer.StateNames.Select(s => TrainStep.StateInput(s, p))).ToDictionary(k => k, k => _values[k]);

    /// <summary>One optimizer step on a batch; returns the loss before the update.</summary>
    public double Step(HostTensor inputIds, HostTensor labels)
    {
        int step = _stepsDone + 1;
        var scalars = _step.Optimizer.Scalars(step, _step.Optimizer.LearningRate * _schedule.Factor(step));
        var args = new List<HostTensor>();
        foreach (var input in _step.Graph.Inputs)
        {
            string name = input.Attr<InputAttrs>().Name;
            args.Add(name switch
            {
                DecoderGraphNamesInputIds => inputIds,
                LanguageModelLoss.Labels => labels,
                _ when name.StartsWith("hp.", StringComparison.Ordinal) => HostTensor.FromArray(new[] { (float)scalars[IndexOf(_step.Optimizer.ScalarNames, name[3..])] }),
                _ => _values[name],
            });
        }

        var results = _stepExe.Run(args);
        for (int i = 1; i < results.Length; i++)
        {
            string name = _step.Graph.OutputNames[i];
            _values[name.StartsWith("param.", StringComparison.Ordinal) ? name["param.".Length..] : name["state.".Length..]] = results[i];
        }

        _stepsDone++;
        return results[0].GetDouble(0);
    }

    /// <summary>The loss of the current parameters on a batch (no update).</summary>
    public double Loss(HostTensor inputIds, HostTensor labels)
    {
        var args = _lossGraph.Inputs.Select(i => i.Attr<InputAttrs>().Name switch
        {
            DecoderGraphNamesInputIds => inputIds,
            LanguageModelLoss.Labels => labels,
            var n => _values[n],
        }).ToArray();
        return _lossExe.Run(args)[0].GetDouble(0);
    }

    /// <summary>Writes <c>model.safetensors</c> (the parameters, checkpoint names) and <c>optimizer.safetensors</c> (the state and the step count) into <paramref name="directory"/>.</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        SafeTensorsWriter.Write(Path.Combine(directory, "model.safetensors"), Parameters);
        var state = OptimizerState.ToDictionary(kv => kv.Key, kv => kv.Value);
        state["step"] = HostTensor.FromArray(new long[] { _stepsDone });
        SafeTensorsWriter.Write(Path.Combine(directory, "optimizer.safetensors"), state);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _stepExe.Dispose();
        _lossExe.Dispose();
    }

    private const string DecoderGraphNamesInputIds = Models.Common.DecoderGraphNames.InputIds;

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (int i = 0; i < names.Count; i++)
        {
            if (names[i] == name) return i;
        }

        throw new InvalidOperationException($"train step: unknown scalar '{name}'");
    }
}
