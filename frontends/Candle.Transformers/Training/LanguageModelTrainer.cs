using Candle.Compiler.Autodiff;
using Candle.Compiler.Backends;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Devices;
using Candle.Runtime.Execution;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Transformers.Models;

namespace Candle.Transformers.Training;

/// <summary>
/// Trains a model on its <see cref="TrainingObjective"/> (causal LMs, image classifiers, Whisper, BERT task heads) with one compiled
/// <see cref="TrainStep"/> per step: the loss, the gradients and the optimizer's update in one call, the parameters and
/// optimizer state passed back in as the next step's donated inputs. Starts from the checkpoint's parameters and zero
/// optimizer state, as PyTorch's optimizers do; <see cref="Save"/> and <see cref="Load"/> checkpoint both.
/// A step over several micro-batches (<see cref="Step(IReadOnlyList{IReadOnlyDictionary{string, HostTensor}})"/>)
/// accumulates their gradients, averaged, before one update, as transformers' Trainer does with
/// gradient_accumulation_steps. On an accelerator (a backend whose executables run on device tensors) the parameters
/// and optimizer state stay resident on the device between steps; only the batch goes up and the loss comes down.
/// </summary>
public sealed class LanguageModelTrainer : IDisposable
{
    private const string StepKey = "step";
    private readonly IBackend _backend;
    private readonly TrainStep _step;
    private readonly IExecutable _stepExe;
    private readonly IExecutable _lossExe;
    private readonly Graph _lossGraph;
    private readonly LearningRateSchedule _schedule;
    private readonly double? _maxGradNorm;
    private readonly CompileOptions _options;
    private readonly IReadOnlyList<(string Name, Node Node)> _parameters;
    private readonly Dictionary<string, HostTensor> _values = new(StringComparer.Ordinal);
    private readonly IDevice? _device;
    private readonly Dictionary<string, DeviceTensor> _resident = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DeviceTensor> _staged = new(StringComparer.Ordinal);
    private readonly HashSet<string> _stale = new(StringComparer.Ordinal);
    private IExecutable? _gradExe;
    private Graph? _gradGraph;
    private TrainStep? _apply;
    private IExecutable? _applyExe;
    private int _stepsDone;

    /// <summary>Builds and compiles the step for <paramref name="model"/> (with <paramref name="options"/>, default <see cref="CompileOptions.Default"/>).</summary>
    /// <exception cref="NotSupportedException">transformers defines no loss for the model.</exception>
    public LanguageModelTrainer(IPretrainedModel model, Optimizer optimizer, IBackend backend, LearningRateSchedule? schedule = null, double? maxGradNorm = null, CompileOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(backend);
        Model = model;
        _backend = backend;
        // Every step runs the same executable on the same buffers, so the step is recorded and replayed where the device
        // can (CUDA graphs) unless the options say otherwise.
        _options = options ?? CompileOptions.Default;
        if (_options.CaptureGraphs is null) _options = _options with { CaptureGraphs = true };
        _maxGradNorm = maxGradNorm;
        var loss = TrainingObjective.Trace(model);
        _parameters = LanguageModelLoss.Parameters(model, loss);
        _step = TrainStep.Build(loss, LanguageModelLoss.Loss, _parameters, optimizer, maxGradNorm);
        _schedule = schedule ?? LearningRateSchedule.Constant;
        foreach (var (name, node) in _parameters)
        {
            _values[name] = node.Attr<ConstantAttrs>().Data.Clone();
            foreach (var s in optimizer.StateNames) _values[TrainStep.StateInput(s, name)] = HostTensor.Zeros(node.DType, _values[name].ShapeArray());
        }

        var replace = _parameters.ToDictionary(p => p.Node, p => IrBuilder.Input(p.Name, p.Node.DType, p.Node.Shape), (IEqualityComparer<Node>)ReferenceEqualityComparer.Instance);
        var rewritten = loss.Rewrite(n => replace.GetValueOrDefault(n));
        _lossGraph = new Graph([.. loss.Inputs, .. _parameters.Select(p => replace[p.Node])], rewritten.Outputs, rewritten.OutputNames);
        _stepExe = backend.Compile(_step.Graph, _options);
        _lossExe = backend.Compile(_lossGraph, _options);
        if (_stepExe is IDeviceExecutable { Device.IsHost: false } d && _lossExe is IDeviceExecutable) _device = d.Device;
    }

    /// <summary>The model trained.</summary>
    public IPretrainedModel Model { get; }

    /// <summary>The optimizer steps taken (including those of a loaded checkpoint).</summary>
    public int StepsDone => _stepsDone;

    /// <summary>The current parameters by checkpoint name (the tensors the next step updates in place: clone one to keep its value).</summary>
    public IReadOnlyDictionary<string, HostTensor> Parameters => _step.ParameterNames.ToDictionary(n => n, Value);

    /// <summary>The optimizer state by <c>{state}.{parameter}</c> (updated in place by the next step, as <see cref="Parameters"/>).</summary>
    public IReadOnlyDictionary<string, HostTensor> OptimizerState =>
        _step.ParameterNames.SelectMany(p => _step.Optimizer.StateNames.Select(s => TrainStep.StateInput(s, p))).ToDictionary(k => k, Value);

    /// <summary>One optimizer step on a causal LM batch; returns the loss before the update.</summary>
    public double Step(HostTensor inputIds, HostTensor labels) =>
        Step(new Dictionary<string, HostTensor>(StringComparer.Ordinal) { [Models.Common.DecoderGraphNames.InputIds] = inputIds, [LanguageModelLoss.Labels] = labels });

    /// <summary>One optimizer step on a batch of the objective's inputs (see <see cref="TrainingObjective.Prepare"/>); returns the loss before the update.</summary>
    public double Step(IReadOnlyDictionary<string, HostTensor> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (_device is not null) return DeviceStep(batch);
        var results = _stepExe.Run(Arguments(_step.Graph, batch, Scalars()));
        for (int i = 1; i < results.Length; i++) Keep(_step.Graph.OutputNames[i], results[i]);
        _stepsDone++;
        return results[0].GetDouble(0);
    }

    /// <summary>
    /// One optimizer step whose gradient is the mean of the gradients of <paramref name="microBatches"/> (each a
    /// batch as <see cref="Step(IReadOnlyDictionary{string, HostTensor})"/> takes); returns the mean of their losses.
    /// With equal-sized micro-batches whose losses average over equally many labels, this equals one step on the
    /// whole batch.
    /// </summary>
    public double Step(IReadOnlyList<IReadOnlyDictionary<string, HostTensor>> microBatches)
    {
        ArgumentNullException.ThrowIfNull(microBatches);
        if (microBatches.Count == 0) throw new ArgumentException("gradient accumulation needs at least one micro-batch", nameof(microBatches));
        if (microBatches.Count == 1) return Step(microBatches[0]);
        ToHost();
        if (_gradExe is null)
        {
            _gradGraph = ReverseMode.Differentiate(_lossGraph, LanguageModelLoss.Loss, [.. _lossGraph.Inputs.Skip(_lossGraph.Inputs.Length - _parameters.Count)], [.. _parameters.Select(p => p.Name)]);
            _gradExe = _backend.Compile(_gradGraph, _options);
            _apply = TrainStep.BuildApply([.. _parameters.Select(p => (p.Name, p.Node.DType, p.Node.Shape))], _step.Optimizer, _maxGradNorm);
            _applyExe = _backend.Compile(_apply.Graph, _options);
        }

        double scale = 1.0 / microBatches.Count;
        double loss = 0;
        var sums = new Dictionary<string, double[]>(StringComparer.Ordinal);
        foreach (var micro in microBatches)
        {
            var results = _gradExe.Run(Arguments(_gradGraph!, micro, null));
            loss += results[0].GetDouble(0) * scale;
            for (int i = 1; i < results.Length; i++)
            {
                var g = results[i].ToFloat64();
                string name = _gradGraph!.OutputNames[i];
                if (!sums.TryGetValue(name, out var sum)) sums[name] = sum = new double[g.Length];
                for (int k = 0; k < g.Length; k++) sum[k] += g[k] * scale;
            }
        }

        var grads = sums.ToDictionary(kv => kv.Key, kv => HostTensor.FromDoubles(_values[kv.Key["grad.".Length..]].DType, kv.Value, _values[kv.Key["grad.".Length..]].ShapeArray()), StringComparer.Ordinal);
        var applied = _applyExe!.Run(Arguments(_apply!.Graph, grads, Scalars()));
        for (int i = 0; i < applied.Length; i++) Keep(_apply.Graph.OutputNames[i], applied[i]);
        _stepsDone++;
        return loss;
    }

    /// <summary>The loss of the current parameters on a causal LM batch (no update).</summary>
    public double Loss(HostTensor inputIds, HostTensor labels) =>
        Loss(new Dictionary<string, HostTensor>(StringComparer.Ordinal) { [Models.Common.DecoderGraphNames.InputIds] = inputIds, [LanguageModelLoss.Labels] = labels });

    /// <summary>The loss of the current parameters on a batch (no update).</summary>
    public double Loss(IReadOnlyDictionary<string, HostTensor> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (_device is not null) return RunResident((IDeviceExecutable)_lossExe, _lossGraph, batch, null, keep: false);
        return _lossExe.Run(Arguments(_lossGraph, batch, null))[0].GetDouble(0);
    }

    /// <summary>
    /// Writes <c>model.safetensors</c> (the parameters, checkpoint names) and <c>optimizer.safetensors</c> (the state as
    /// <c>{state}.{parameter}</c> and the step count as <c>step</c>) into <paramref name="directory"/>.
    /// </summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        SafeTensorsWriter.Write(Path.Combine(directory, "model.safetensors"), Parameters);
        var state = OptimizerState.ToDictionary(kv => kv.Key, kv => kv.Value);
        state[StepKey] = HostTensor.FromArray(new long[] { _stepsDone });
        SafeTensorsWriter.Write(Path.Combine(directory, "optimizer.safetensors"), state);
    }

    /// <summary>
    /// Resumes from a directory <see cref="Save"/> wrote: the parameters, the optimizer state and the step count (so the
    /// schedule and Adam's bias correction continue where they stopped).
    /// </summary>
    /// <exception cref="InvalidDataException">A file or tensor is missing or its dtype or shape differs from the model's; the message names the file and tensor.</exception>
    public void Load(string directory)
    {
        string model = Path.Combine(directory, "model.safetensors"), optimizer = Path.Combine(directory, "optimizer.safetensors");
        foreach (var f in new[] { model, optimizer })
        {
            if (!File.Exists(f)) throw new FileNotFoundException($"{f}: no such file (resume expects the model.safetensors and optimizer.safetensors a saved run wrote)", f);
        }

        var loaded = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        using (var file = SafeTensorsFile.Open(model)) Read(file, model, Parameters.Keys, loaded);
        int steps;
        using (var file = SafeTensorsFile.Open(optimizer))
        {
            Read(file, optimizer, OptimizerState.Keys, loaded);
            if (!file.Names.Contains(StepKey)) throw new InvalidDataException($"{optimizer}: no tensor '{StepKey}'");
            var s = file.Get(StepKey);
            if (s.ElementCount != 1 || s.DType.IsFloat() || s.GetInt64(0) is < 0 or > int.MaxValue) throw new InvalidDataException($"{optimizer}: '{StepKey}' must be one non-negative integer");
            steps = (int)s.GetInt64(0);
        }

        ToHost();
        foreach (var (k, v) in loaded) _values[k] = v;
        _stepsDone = steps;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _stepExe.Dispose();
        _lossExe.Dispose();
        _gradExe?.Dispose();
        _applyExe?.Dispose();
        foreach (var t in _resident.Values) t.Dispose();
        _resident.Clear();
        foreach (var t in _staged.Values) t.Dispose();
        _staged.Clear();
    }

    /// <summary>The executable of the optimizer step (for tests of how it runs).</summary>
    internal IExecutable StepExecutable => _stepExe;

    private void Read(SafeTensorsFile file, string path, IEnumerable<string> names, Dictionary<string, HostTensor> into)
    {
        foreach (var name in names)
        {
            if (!file.Names.Contains(name)) throw new InvalidDataException($"{path}: no tensor '{name}'");
            var t = file.Get(name);
            var want = Value(name);
            if (t.DType != want.DType || !t.ShapeArray().SequenceEqual(want.ShapeArray()))
            {
                throw new InvalidDataException($"{path}: tensor '{name}' is {t.DType} [{string.Join(", ", t.Shape)}], the model's is {want.DType} [{string.Join(", ", want.Shape)}]");
            }

            into[name] = t.Clone();
        }
    }

    private double[] Scalars()
    {
        int step = _stepsDone + 1;
        return _step.Optimizer.Scalars(step, _step.Optimizer.LearningRate * _schedule.Factor(step));
    }

    private static string KeyOf(string output) =>
        output.StartsWith("param.", StringComparison.Ordinal) ? output["param.".Length..] : output["state.".Length..];

    private void Keep(string output, HostTensor value) => _values[KeyOf(output)] = value;

    /// <summary>The host value of a parameter or state tensor, copied from the device when the resident one is newer.</summary>
    private HostTensor Value(string name)
    {
        if (_stale.Remove(name)) _values[name] = _resident[name].Download();
        return _values[name];
    }

    /// <summary>Brings every resident tensor back to the host and frees the device copies.</summary>
    private void ToHost()
    {
        foreach (var name in _stale.ToArray()) Value(name);
        foreach (var t in _resident.Values) t.Dispose();
        _resident.Clear();
    }

    private double DeviceStep(IReadOnlyDictionary<string, HostTensor> batch)
    {
        double loss = RunResident((IDeviceExecutable)_stepExe, _step.Graph, batch, Scalars(), keep: true);
        _stepsDone++;
        return loss;
    }

    /// <summary>
    /// Runs <paramref name="exe"/> on the device: the batch and scalars uploaded into device tensors kept per input
    /// (<see cref="Stage"/>), parameters and state from their resident copies (uploaded on first use); with
    /// <paramref name="keep"/>, the outputs become the new resident parameters and state. Returns output 0, the loss.
    /// Every step thus passes the same buffers, which lets a device record the step once and replay it.
    /// </summary>
    private double RunResident(IDeviceExecutable exe, Graph graph, IReadOnlyDictionary<string, HostTensor> batch, double[]? scalars, bool keep)
    {
        var device = _device!;
        var args = new DeviceTensor[graph.Inputs.Length];
        for (int i = 0; i < args.Length; i++)
        {
            string name = graph.Inputs[i].Attr<InputAttrs>().Name;
            if (batch.TryGetValue(name, out var t))
            {
                args[i] = Stage(name, t);
            }
            else if (scalars is not null && name.StartsWith("hp.", StringComparison.Ordinal))
            {
                args[i] = Stage(name, HostTensor.FromArray(new[] { (float)scalars[IndexOf(_step.Optimizer.ScalarNames, name[3..])] }));
            }
            else if (_resident.TryGetValue(name, out var r))
            {
                args[i] = r;
            }
            else if (_values.TryGetValue(name, out var v))
            {
                args[i] = _resident[name] = DeviceTensor.Upload(v, device);
            }
            else
            {
                throw new ArgumentException($"training batch: no tensor '{name}' (given: {string.Join(", ", batch.Keys)})", nameof(batch));
            }
        }

        var results = exe.RunOnDevice(args);
        var fresh = results.Select(r => r.Buffer).ToHashSet(ReferenceEqualityComparer.Instance);
        double loss;
        using (results[0]) loss = results[0].Download().GetDouble(0);
        exe.CheckIndexes();
        for (int o = 1; o < results.Length; o++)
        {
            if (!keep)
            {
                results[o].Dispose();
                continue;
            }

            string name = KeyOf(graph.OutputNames[o]);
            var value = results[o];
            if (_resident.TryGetValue(name, out var prev))
            {
                // An output written in place into its input's buffer keeps the owning tensor.
                if (ReferenceEquals(prev.Buffer, value.Buffer)) value = prev;
                else if (!fresh.Contains(prev.Buffer)) prev.Dispose();
            }

            _resident[name] = value;
            _stale.Add(name);
        }

        return loss;
    }

    /// <summary>
    /// Copies <paramref name="value"/> into the device tensor kept for input <paramref name="name"/> (allocated anew only
    /// when its dtype or shape changes); the copy is queued on the device behind the previous run.
    /// </summary>
    private DeviceTensor Stage(string name, HostTensor value)
    {
        var device = _device!;
        if (!_staged.TryGetValue(name, out var staged) || staged.DType != value.DType || !staged.Shape.SequenceEqual(value.ShapeArray()))
        {
            staged?.Dispose();
            _staged[name] = staged = DeviceTensor.Allocate(device, value.DType, value.ShapeArray());
        }

        device.CopyFromHost(value.Data.Span, staged.Buffer, 0);
        return staged;
    }

    private HostTensor[] Arguments(Graph graph, IReadOnlyDictionary<string, HostTensor> batch, double[]? scalars)
    {
        var args = new HostTensor[graph.Inputs.Length];
        for (int i = 0; i < args.Length; i++)
        {
            string name = graph.Inputs[i].Attr<InputAttrs>().Name;
            if (batch.TryGetValue(name, out var t)) args[i] = t;
            else if (scalars is not null && name.StartsWith("hp.", StringComparison.Ordinal)) args[i] = HostTensor.FromArray(new[] { (float)scalars[IndexOf(_step.Optimizer.ScalarNames, name[3..])] });
            else if (_values.TryGetValue(name, out var v)) args[i] = v;
            else throw new ArgumentException($"training batch: no tensor '{name}' (given: {string.Join(", ", batch.Keys)})", nameof(batch));
        }

        return args;
    }

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (int i = 0; i < names.Count; i++)
        {
            if (names[i] == name) return i;
        }

        throw new InvalidOperationException($"train step: unknown scalar '{name}'");
    }
}
