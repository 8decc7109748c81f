using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Loader;
using Candle.Runtime.Devices;
using Candle.Runtime.Execution;
using Candle.Runtime.Kernels.Cpu;
using Candle.Runtime.Kernels.Cpu.Args;
using Candle.Runtime.Kernels.Cpu.Lanes;
using Candle.Runtime.Tensors;
using Candle.Runtime.Threading;

namespace Candle.Runtime.Plans;

/// <summary>
/// A compiled program: its device-neutral <see cref="Definition"/> (steps over buffers with symbolic sizes), the
/// generated code for its backend (<see cref="Payload"/>) and the executor of its device — the host here: kernel calls over buffers. Inputs are read in place, weights are bound zero-copy,
/// intermediates live in one arena per call (offsets assigned by <see cref="MemoryPlanner"/> from buffer lifetimes),
/// outputs are fresh tensors. Symbolic dimensions are resolved when called, so one plan serves every value of them.
/// <see cref="Run(IReadOnlyList{HostTensor})"/> may be called from many threads at once. <see cref="Save(string)"/> writes the plan, its generated kernel
/// assembly and its weights to one file that <see cref="Load(string)"/> reads with this assembly alone, after checking
/// every section's SHA-256 and the plan's structure. A plan file contains code: load plans you built or whose publisher
/// you trust, or require a signature by a trusted key (<see cref="PlanLoadOptions"/>).
/// An output whose buffer is an input's (a donated input updated in place, such as a KV cache) is returned as a
/// tensor over that input's memory. <see cref="Dispose"/> unpins the weights and stops the plan's own worker pool.
/// </summary>
public sealed class Plan : IDeviceExecutable
{
    /// <summary>The name of the type holding generated kernels in a kernel assembly.</summary>
    public const string GeneratedKernelsType = "Candle.Generated.Kernels";

    private const int MaxCachedBindings = 64;
    private readonly KernelFn[] _kernels;
    private readonly nint[] _weightPtrs;
    private readonly MemoryHandle[] _weightPins;
    private readonly string[] _symbols;
    private readonly Dictionary<string, GeneratedLayout> _generated = new(StringComparer.Ordinal);
    private readonly StepAccessMemo _accessMemo;
    private readonly ConcurrentDictionary<SymbolKey, BoundPlan> _bound = new();
    private readonly ArenaPool _arenas = new();
    private readonly object? _keepAlive;
    private readonly ConcurrentDictionary<ArenaKey, (long[] Offsets, long Peak)> _layouts = new();
    private int _disposed;
    private int _arenaPlans;
    private static readonly WorkerPool SingleThread = new(1);

    // The pool the plan runs on: null for WorkerPool.Shared, SingleThread for Threads = 1, else a pool of its own.
    private readonly WorkerPool? _pool;

    /// <summary>Creates a plan from its definition, generated kernel assembly (may be null) and weights.</summary>
    /// <param name="definition">Inputs, outputs, buffers and steps.</param>
    /// <param name="kernelAssembly">The bytes of the generated kernel assembly, or null when no step uses one.</param>
    /// <param name="weights">Weight tensors, indexed by the weight buffers' <see cref="PlanBuffer.Index"/>; bound without copying.</param>
    /// <param name="kernelDump">The IL listing of the generated kernels.</param>
    /// <exception cref="ArgumentException">A step names a kernel that does not exist, or the weights do not match.</exception>
    public Plan(PlanDefinition definition, byte[]? kernelAssembly, IReadOnlyList<HostTensor> weights, string? kernelDump)
        : this(definition, kernelAssembly is null ? null : new IlKernelPayload(kernelAssembly, kernelDump ?? string.Empty), weights, null)
    {
    }

    /// <summary>Creates a plan from its definition, its generated code (null when no step uses generated kernels) and weights.</summary>
    /// <param name="definition">Inputs, outputs, buffers and steps.</param>
    /// <param name="payload">The generated kernels; the host runs <see cref="IlKernelPayload"/>.</param>
    /// <param name="weights">Weight tensors, indexed by the weight buffers' <see cref="PlanBuffer.Index"/>; bound without copying.</param>
    /// <exception cref="ArgumentException">A step names a kernel that does not exist, the weights do not match, or the payload is for another target.</exception>
    public Plan(PlanDefinition definition, KernelPayload? payload, IReadOnlyList<HostTensor> weights)
        : this(definition, payload, weights, null)
    {
    }

    private Plan(PlanDefinition definition, KernelPayload? payload, IReadOnlyList<HostTensor> weights, object? keepAlive)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentNullException.ThrowIfNull(weights);
        if (payload is not (null or IlKernelPayload))
        {
            throw new ArgumentException($"the host runs cpu-il kernels, but the plan's kernels are for '{payload.Target}'", nameof(payload));
        }

        Definition = definition;
        _accessMemo = new StepAccessMemo(definition.Steps.Count);
        Payload = payload;
        var kernelAssembly = (payload as IlKernelPayload)?.AssemblyBytes;
        KernelDump = payload?.Listing ?? string.Empty;
        Weights = weights;
        _keepAlive = keepAlive;
        foreach (var spec in KernelListing.Specs("plan", KernelDump))
        {
            if (GeneratedLayout.Parse(spec.Spec) is { } layout) _generated[spec.Name] = layout;
        }

        if (weights.Count != definition.Weights.Count)
        {
            throw new ArgumentException($"plan names {definition.Weights.Count} weights but {weights.Count} were given", nameof(weights));
        }

        if (kernelAssembly is not null)
        {
            KernelAssembly = LoadKernelAssembly(kernelAssembly);
        }

        _weightPins = new MemoryHandle[weights.Count];
        _weightPtrs = new nint[weights.Count];
        for (int i = 0; i < weights.Count; i++)
        {
            _weightPins[i] = weights[i].Data.Pin();
            unsafe
            {
                _weightPtrs[i] = (nint)_weightPins[i].Pointer;
            }
        }

        var generated = KernelsType(KernelAssembly);
        _kernels = new KernelFn[definition.Steps.Count];
        var cache = new Dictionary<string, KernelFn>(StringComparer.Ordinal);
        for (int i = 0; i < _kernels.Length; i++)
        {
            var step = definition.Steps[i];
            string name = step.Kernel;
            if (cache.TryGetValue(name, out var fn))
            {
                _kernels[i] = fn;
                continue;
            }

            int at = name.IndexOf('@', StringComparison.Ordinal);
            string main = at < 0 ? name : name[..at];
            var preparer = main.StartsWith("rt:", StringComparison.Ordinal) ? RuntimeKernels.GetPreparer(main[3..]) : null;
            if (preparer is null)
            {
                if (at >= 0) throw new ArgumentException($"step '{step.Label}': kernel '{main}' takes no epilogue but the step names '{name[(at + 1)..]}'");
                fn = ResolveKernel(name, generated, step.Label);
                cache[name] = fn;
            }
            else
            {
                var epilogue = at < 0 ? null : ResolveKernel(name[(at + 1)..], generated, step.Label);
                var constants = step.Args.Select(x => x.IsConstant ? x.Value : (long?)null).ToArray();
                fn = preparer(new KernelPreparation(constants, WeightAddress, epilogue, WeightOwner));
            }

            _kernels[i] = fn;
        }

        _pool = definition.Threads switch
        {
            1 => SingleThread,
            var t when t <= 0 || t >= Environment.ProcessorCount || t == WorkerPool.Shared.Threads => null,
            var t => new WorkerPool(t),
        };

        _symbols = [.. definition.Inputs.SelectMany(t => t.Shape).SelectMany(d => d.Symbols)
            .Concat(definition.Buffers.SelectMany(b => b.Bytes.Symbols)).Distinct().Order(StringComparer.Ordinal)];
    }

    /// <summary>Unpins the weights and stops the plan's own worker pool when the plan was not disposed.</summary>
    ~Plan()
    {
        Release();
    }

    /// <summary>Unpins the weights and stops the plan's own worker pool; the plan cannot run afterwards.</summary>
    public void Dispose()
    {
        Release();
        GC.SuppressFinalize(this);
    }

    private void Release()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;

        // A constructor that threw (a plan file whose kernels fail to load) leaves the pins unset; the finalizer still runs.
        if (_weightPins is not null)
        {
            foreach (var h in _weightPins) h.Dispose();
        }

        if (_pool is not null && !ReferenceEquals(_pool, SingleThread)) _pool.Dispose();
    }

    /// <summary>The plan's structure.</summary>
    public PlanDefinition Definition { get; }

    /// <summary>The generated code, or null when no step uses generated kernels.</summary>
    public KernelPayload? Payload { get; }

    /// <summary>The device the plan runs on.</summary>
    public IDevice Device => HostDevice.Instance;

    /// <summary>The generated kernel assembly's bytes, or null.</summary>
    public byte[]? KernelAssemblyBytes => (Payload as IlKernelPayload)?.AssemblyBytes;

    /// <summary>The loaded generated kernel assembly, or null (its methods have IL bodies that other backends can read).</summary>
    public Assembly? KernelAssembly { get; }

    /// <summary>The IL listing of every generated kernel.</summary>
    public string KernelDump { get; }

    /// <summary>The bound weights.</summary>
    public IReadOnlyList<HostTensor> Weights { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> InputNames => [.. Definition.Inputs.Select(i => i.Name)];

    /// <inheritdoc/>
    public IReadOnlyList<string> OutputNames => [.. Definition.Outputs.Select(i => i.Name)];

    /// <summary>Name, element type and (symbolic) shape of each input, in <see cref="InputNames"/> order.</summary>
    public IReadOnlyList<PlanIOMetadata> InputMetadata => [.. Definition.Inputs.Select(i => new PlanIOMetadata(i.Name, i.DType, i.Shape))];

    /// <summary>Name, element type and (symbolic) shape of each output, in <see cref="OutputNames"/> order.</summary>
    public IReadOnlyList<PlanIOMetadata> OutputMetadata => [.. Definition.Outputs.Select(o => new PlanIOMetadata(o.Name, o.DType, o.Shape))];

    /// <summary>
    /// Runs the plan with inputs given by name and returns the outputs by name, as ONNX Runtime's
    /// <c>InferenceSession.Run</c> does. Every input must be given, and no other name.
    /// </summary>
    /// <exception cref="ArgumentException">An input is missing, a name is not an input, or a tensor's dtype or shape does not fit; the message names it.</exception>
    public IReadOnlyDictionary<string, HostTensor> Run(IReadOnlyDictionary<string, HostTensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var names = InputNames;
        foreach (string key in inputs.Keys)
        {
            if (!names.Contains(key))
            {
                throw new ArgumentException($"'{key}' is not an input of this plan; its inputs are {string.Join(", ", names.Select(n => $"'{n}'"))}", nameof(inputs));
            }
        }

        var ordered = new HostTensor[names.Count];
        for (int i = 0; i < names.Count; i++)
        {
            ordered[i] = inputs.TryGetValue(names[i], out var t) && t is not null
                ? t
                : throw new ArgumentException($"input '{names[i]}' is missing; the plan needs {string.Join(", ", Definition.Inputs.Select(x => $"{x.Name}: {x.DType.TorchName()}{x.ShapeText}"))}", nameof(inputs));
        }

        var outputs = Run(ordered);
        var result = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        var outNames = OutputNames;
        for (int o = 0; o < outputs.Length; o++) result[outNames[o]] = outputs[o];
        return result;
    }

    /// <summary>The symbols the plan's shapes mention (resolved from the inputs at each call).</summary>
    public IReadOnlyList<string> Symbols => _symbols;

    /// <summary>A readable listing of the generated kernels' IL.</summary>
    public string DumpKernels() => KernelDump;

    /// <summary>A readable listing of the plan: inputs, outputs, buffers and steps.</summary>
    public string Describe()
    {
        var sb = new System.Text.StringBuilder();
        foreach (var t in Definition.Inputs) sb.Append("input ").Append(t.Name).Append(": ").Append(t.DType.TorchName()).Append(t.ShapeText).Append(" -> b").Append(t.Buffer).AppendLine();
        for (int i = 0; i < Definition.Buffers.Count; i++)
        {
            var b = Definition.Buffers[i];
            sb.Append('b').Append(i).Append(": ").Append(b.Kind).Append(' ').Append(b.Index).Append(", ").Append(b.Bytes).Append(" bytes");
            if (b.Kind == BufferKind.Arena) sb.Append(", live ").Append(b.FirstStep).Append("..").Append(b.LastStep);
            sb.AppendLine();
        }

        for (int i = 0; i < Definition.Steps.Count; i++)
        {
            var s = Definition.Steps[i];
            sb.Append(i).Append(": ").Append(s.Kernel).Append(" (").Append(string.Join(", ", s.Args)).Append(") over ").Append(s.Work).Append("  # ").Append(s.Label).AppendLine();
        }

        foreach (var t in Definition.Outputs) sb.Append("output ").Append(t.Name).Append(": ").Append(t.DType.TorchName()).Append(t.ShapeText).Append(" <- b").Append(t.Buffer).AppendLine();
        return sb.ToString();
    }

    /// <summary>The arena bytes one call needs for the given symbol values.</summary>
    /// <exception cref="KeyNotFoundException">A symbol has no value.</exception>
    public long PeakArenaBytes(IReadOnlyDictionary<string, long> symbols)
    {
        ArgumentNullException.ThrowIfNull(symbols);
        return Bind([.. _symbols.Select(s => symbols.TryGetValue(s, out long v) ? v : throw new KeyNotFoundException($"symbol '{s}' has no value"))]).ArenaBytes;
    }

    /// <summary>The symbol values the given inputs imply.</summary>
    /// <exception cref="ArgumentException">The inputs do not match the plan's inputs.</exception>
    public Dictionary<string, long> BindSymbols(IReadOnlyList<HostTensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var ins = Definition.Inputs;
        if (inputs.Count != ins.Count)
        {
            throw new ArgumentException($"plan takes {ins.Count} inputs ({string.Join(", ", ins.Select(i => i.Name))}) but {inputs.Count} were given", nameof(inputs));
        }

        var env = new Dictionary<string, long>(StringComparer.Ordinal);
        for (int i = 0; i < ins.Count; i++)
        {
            var t = inputs[i] ?? throw new ArgumentException($"input '{ins[i].Name}' is null", nameof(inputs));
            if (t.DType != ins[i].DType || t.Rank != ins[i].Shape.Count)
            {
                throw new ArgumentException($"input '{ins[i].Name}' expects {ins[i].DType.TorchName()}{ins[i].ShapeText} but got {t}", nameof(inputs));
            }

            for (int d = 0; d < t.Rank; d++)
            {
                if (ins[i].Shape[d].SymbolName is string s) env.TryAdd(s, t.Shape[d]);
            }
        }

        for (int i = 0; i < ins.Count; i++)
        {
            for (int d = 0; d < inputs[i].Rank; d++)
            {
                long want;
                try
                {
                    want = ins[i].Shape[d].Evaluate(env);
                }
                catch (KeyNotFoundException e)
                {
                    throw new ArgumentException($"input '{ins[i].Name}': {e.Message}", nameof(inputs), e);
                }

                if (want != inputs[i].Shape[d])
                {
                    throw new ArgumentException($"input '{ins[i].Name}' expects {ins[i].DType.TorchName()}{ins[i].ShapeText} (dim {d} = {want}) but got {inputs[i]}", nameof(inputs));
                }
            }
        }

        return env;
    }

    /// <inheritdoc/>
    public HostTensor[] Run(IReadOnlyList<HostTensor> inputs) => Run(inputs, []);

    /// <summary>
    /// Runs once, writing the outputs that <paramref name="into"/> gives (by output index; a missing or null entry is
    /// allocated as <see cref="Run(IReadOnlyList{HostTensor})"/> does) straight into the caller's memory, for example
    /// a prompt's keys and values into a preallocated cache. Given outputs must have the dtypes and shapes the inputs
    /// imply and must not alias inputs.
    /// </summary>
    /// <param name="inputs">The inputs, in <see cref="InputNames"/> order.</param>
    /// <param name="into">Output tensors to write into, by output index; null where the plan allocates the output.</param>
    /// <returns>The outputs, in <see cref="OutputNames"/> order: the given tensors where given.</returns>
    /// <exception cref="ArgumentException">An input or a given output does not match the plan.</exception>
    public HostTensor[] Run(IReadOnlyList<HostTensor> inputs, IReadOnlyList<HostTensor?> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        var bound = BindInputs(inputs);
        var def = Definition;
        if (into.Count > def.Outputs.Count)
        {
            throw new ArgumentException($"plan has {def.Outputs.Count} outputs but {into.Count} were given", nameof(into));
        }

        var outputs = new HostTensor[def.Outputs.Count];
        for (int o = 0; o < outputs.Length; o++)
        {
            var buffer = def.Buffers[def.Outputs[o].Buffer];
            if (o < into.Count && into[o] is { } given)
            {
                CheckGivenOutput(inputs, bound, o, given, nameof(into));
                outputs[o] = given;
                continue;
            }

            if (buffer.Kind == BufferKind.Input)
            {
                outputs[o] = new HostTensor(def.Outputs[o].DType, bound.OutputShapes[o], inputs[buffer.Index].Data);
                continue;
            }

            var bytes = GC.AllocateUninitializedArray<byte>(checked((int)bound.Bytes[def.Outputs[o].Buffer]));
            outputs[o] = new HostTensor(def.Outputs[o].DType, bound.OutputShapes[o], bytes);
        }

        Execute(inputs, outputs, bound);
        return outputs;
    }

    /// <summary>
    /// Runs the plan on tensors that live on its <see cref="Device"/> and returns outputs there: nothing is copied to or
    /// from the host, so tensors can stay resident between calls (a donated input updated in place comes back as a
    /// view of the same buffer). Outputs the plan writes into fresh memory are owned by the returned tensors.
    /// </summary>
    /// <exception cref="ArgumentException">An input is on another device or does not match the plan.</exception>
    public DeviceTensor[] RunOnDevice(IReadOnlyList<DeviceTensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var host = new HostTensor[inputs.Count];
        for (int i = 0; i < host.Length; i++)
        {
            var t = inputs[i] ?? throw new ArgumentException($"input {i} is null", nameof(inputs));
            if (!ReferenceEquals(t.Device, Device)) throw new ArgumentException($"input '{Definition.Inputs[Math.Min(i, Definition.Inputs.Count - 1)].Name}' is on {t.Device.Name} but the plan runs on {Device.Name}", nameof(inputs));
            host[i] = t.AsHost();
        }

        var outputs = Run(host);
        var result = new DeviceTensor[outputs.Length];
        for (int o = 0; o < outputs.Length; o++)
        {
            var buffer = Definition.Buffers[Definition.Outputs[o].Buffer];
            result[o] = buffer.Kind == BufferKind.Input
                ? DeviceTensor.View(inputs[buffer.Index].Buffer, outputs[o].DType, outputs[o].ShapeArray())
                : DeviceTensor.OnHost(outputs[o]);
        }

        return result;
    }

    /// <summary>Returns at once: a plan's runs check their indices as they run, so <see cref="RunOnDevice"/> has thrown already.</summary>
    public void CheckIndexes()
    {
    }

    /// <summary>
    /// Runs the plan writing into caller-provided output tensors (no output allocation), for example to reuse
    /// buffers across calls. The outputs must have the dtypes and shapes the inputs imply and must not alias inputs.
    /// </summary>
    /// <param name="inputs">The inputs, in <see cref="InputNames"/> order.</param>
    /// <param name="outputs">The outputs, in <see cref="OutputNames"/> order.</param>
    /// <exception cref="ArgumentException">An input or output does not match the plan.</exception>
    public void RunInto(IReadOnlyList<HostTensor> inputs, IReadOnlyList<HostTensor> outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        var bound = BindInputs(inputs);
        var def = Definition;
        if (outputs.Count != def.Outputs.Count)
        {
            throw new ArgumentException($"plan has {def.Outputs.Count} outputs but {outputs.Count} were given", nameof(outputs));
        }

        for (int o = 0; o < outputs.Count; o++) CheckGivenOutput(inputs, bound, o, outputs[o], nameof(outputs));
        Execute(inputs, outputs, bound);
    }

    private void CheckGivenOutput(IReadOnlyList<HostTensor> inputs, BoundPlan bound, int o, HostTensor? t, string parameter)
    {
        var def = Definition;
        if (t is null || t.DType != def.Outputs[o].DType || !t.Shape.SequenceEqual(bound.OutputShapes[o]))
        {
            throw new ArgumentException($"output '{def.Outputs[o].Name}' must be {def.Outputs[o].DType.TorchName()}[{string.Join(", ", bound.OutputShapes[o])}] but got {t?.ToString() ?? "null"}", parameter);
        }

        var buffer = def.Buffers[def.Outputs[o].Buffer];
        if (buffer.Kind == BufferKind.Input && !SameMemory(t, inputs[buffer.Index]))
        {
            throw new ArgumentException($"output '{def.Outputs[o].Name}' is written in place into input '{def.Inputs[buffer.Index].Name}': pass a tensor over that input's memory", parameter);
        }

        if (buffer.Kind != BufferKind.Input)
        {
            for (int i = 0; i < inputs.Count; i++)
            {
                if (Overlaps(t, inputs[i])) throw new ArgumentException($"output '{def.Outputs[o].Name}' overlaps input '{def.Inputs[i].Name}'", parameter);
            }
        }
    }

    /// <summary>
    /// How many arena layouts the plan has computed: calls whose intermediate buffers have the sizes of an earlier
    /// call reuse its layout (a decode step whose only changing size is the cache length computes one).
    /// </summary>
    public int ArenaLayoutsComputed => Volatile.Read(ref _arenaPlans);

    // Two tensors over parts of one managed array overlap when their ranges meet (other memory is not compared).
    private static bool Overlaps(HostTensor a, HostTensor b) =>
        a.Data.Length > 0 && b.Data.Length > 0
        && MemoryMarshal.TryGetArray<byte>(a.Data, out var sa) && MemoryMarshal.TryGetArray<byte>(b.Data, out var sb)
        && ReferenceEquals(sa.Array, sb.Array) && sa.Offset < sb.Offset + sb.Count && sb.Offset < sa.Offset + sa.Count;

    private static bool SameMemory(HostTensor a, HostTensor b) =>
        a.Data.Length == b.Data.Length && (a.Data.Length == 0 || Unsafe.AreSame(ref MemoryMarshal.GetReference(a.Data.Span), ref MemoryMarshal.GetReference(b.Data.Span)));

    private BoundPlan BindInputs(IReadOnlyList<HostTensor> inputs)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var env = BindSymbols(inputs);
        var key = new long[_symbols.Length];
        for (int i = 0; i < key.Length; i++)
        {
            key[i] = env.TryGetValue(_symbols[i], out long v) ? v : throw new ArgumentException($"symbol '{_symbols[i]}' is not determined by the inputs' shapes", nameof(inputs));
        }

        return Bind(key);
    }

    private void Execute(IReadOnlyList<HostTensor> inputs, IReadOnlyList<HostTensor> outputs, BoundPlan bound)
    {
        var def = Definition;
        var slots = new nint[def.Buffers.Count];
        var pins = new MemoryHandle[inputs.Count + outputs.Count];
        long[]? arena = null;
        try
        {
            for (int i = 0; i < inputs.Count; i++) pins[i] = inputs[i].Data.Pin();
            for (int o = 0; o < outputs.Count; o++) pins[inputs.Count + o] = outputs[o].Data.Pin();
            if (bound.ArenaBytes > 0) arena = _arenas.Rent(bound.ArenaBytes);
            nint arenaBase = arena is null ? 0 : ArenaPool.AlignedBase(arena);
            for (int b = 0; b < slots.Length; b++)
            {
                var buf = def.Buffers[b];
                unsafe
                {
                    slots[b] = buf.Kind switch
                    {
                        BufferKind.Input => (nint)pins[buf.Index].Pointer,
                        BufferKind.Weight => _weightPtrs[buf.Index],
                        BufferKind.Arena => arenaBase + (nint)bound.Offsets[b],
                        _ => (nint)pins[inputs.Count + buf.Index].Pointer,
                    };
                }
            }

            RunSteps(slots, bound);
        }
        finally
        {
            foreach (var p in pins) p.Dispose();
            if (arena is not null) _arenas.Return(arena);
        }

        GC.KeepAlive(_keepAlive);
    }

    private void RunSteps(nint[] slots, BoundPlan bound)
    {
        var def = Definition;
        var pool = _pool ?? WorkerPool.Shared;
        var previousPool = KernelPool.Enter(pool);
        try
        {
            for (int s = 0; s < _kernels.Length; s++)
            {
                long work = bound.Work[s];
                if (work <= 0) continue;
                if (bound.AccessProblems?[s] is { } problem) throw new PlanFormatException(problem);
                var fn = _kernels[s];
                var args = bound.Args[s];
                int minPer = bound.MinPerChunk[s];
                long started = StepProfiler.Enabled ? StepProfiler.Timestamp() : 0;
                try
                {
                    if (pool.Threads == 1 || work < 2L * minPer || work > int.MaxValue)
                    {
                        fn(slots, args, 0, work);
                    }
                    else
                    {
                        var body = new StepBody { Fn = fn, Slots = slots, Args = args };
                        pool.ParallelFor((int)work, minPer, ref body);
                    }
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    throw new InvalidOperationException($"plan step {s} ({def.Steps[s].Label}, kernel {def.Steps[s].Kernel}) failed: {e.Message}", e);
                }

                if (StepProfiler.Enabled) StepProfiler.Add(def.Steps[s], args, StepProfiler.Timestamp() - started, work);
            }
        }
        finally
        {
            KernelPool.Enter(previousPool);
        }
    }

    private BoundPlan Bind(long[] key)
    {
        var k = new SymbolKey(key);
        if (_bound.TryGetValue(k, out var b)) return b;
        var env = new Dictionary<string, long>(StringComparer.Ordinal);
        for (int i = 0; i < key.Length; i++) env[_symbols[i]] = key[i];
        b = BoundPlan.Create(Definition, env, ArenaLayout, _generated, _accessMemo);
        if (_bound.Count >= MaxCachedBindings) _bound.Clear();
        _bound[k] = b;
        return b;
    }

    private (long[] Offsets, long Peak) ArenaLayout(long[] sizes, int[] first, int[] last)
    {
        var key = new ArenaKey(sizes);
        if (_layouts.TryGetValue(key, out var layout)) return layout;
        var offsets = new long[sizes.Length];
        long peak = MemoryPlanner.Assign(sizes, first, last, offsets);
        Interlocked.Increment(ref _arenaPlans);
        if (_layouts.Count >= MaxCachedBindings) _layouts.Clear();
        _layouts[key] = (offsets, peak);
        return (offsets, peak);
    }

    private nint WeightAddress(long slot) =>
        slot >= 0 && slot < Definition.Buffers.Count && Definition.Buffers[(int)slot].Kind == BufferKind.Weight ? _weightPtrs[Definition.Buffers[(int)slot].Index] : 0;

    // The array or memory manager behind a weight slot (identifies the weight to caches shared between plans).
    private object? WeightOwner(long slot)
    {
        if (slot < 0 || slot >= Definition.Buffers.Count || Definition.Buffers[(int)slot].Kind != BufferKind.Weight) return null;
        var data = Weights[Definition.Buffers[(int)slot].Index].Data;
        if (MemoryMarshal.TryGetArray<byte>(data, out var segment)) return segment.Array;
        return MemoryMarshal.TryGetMemoryManager<byte, MemoryManager<byte>>(data, out var manager) ? manager : null;
    }

    // The generated kernels are IL in an assembly loaded at run time: that needs a JIT, so a plan with a kernel
    // assembly cannot load under NativeAOT (plans compiled without generated code run their elementwise kernels in
    // the runtime's interpreter instead). The kernels call only the lanes types listed here and the operator
    // structs, which ElementwiseOps roots, so trimming keeps what they use.
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "The kernel assembly is generated by the compiler against the lanes types kept by the DynamicDependency attributes and the operator structs that ElementwiseOps lists.")]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicMethods, typeof(ScalarLanes))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicMethods, typeof(SimdLanes<,>))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicMethods, typeof(Lanes1))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicMethods, typeof(Lanes128))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicMethods, typeof(Lanes256))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicMethods, typeof(Lanes512))]
    private static Assembly LoadKernelAssembly(byte[] bytes)
    {
        if (!RuntimeFeature.IsDynamicCodeSupported)
        {
            throw new NotSupportedException(
                "the plan holds generated IL kernels, which need a JIT; where code cannot be generated (NativeAOT) load a plan compiled without generated kernels (`candle compile --no-codegen`, or CpuBackend with generateKernels: false)");
        }

        var alc = new AssemblyLoadContext("Candle.Kernels", isCollectible: true);
        using var ms = new MemoryStream(bytes, writable: false);
        return alc.LoadFromStream(ms);
    }

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "The type is looked up in the generated kernel assembly, which is loaded at run time and never trimmed.")]
    private static Type? KernelsType(Assembly? kernels) => kernels?.GetType(GeneratedKernelsType);

    [UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "The type is in the generated kernel assembly, which is loaded at run time and never trimmed.")]
    private static MethodInfo? GeneratedMethod(Type? generated, string name) => generated?.GetMethod(name, BindingFlags.Public | BindingFlags.Static);

    private static KernelFn ResolveKernel(string name, Type? generated, string label)
    {
        if (name.StartsWith("rt:", StringComparison.Ordinal))
        {
            return RuntimeKernels.Get(name[3..]);
        }

        if (name.StartsWith("gen:", StringComparison.Ordinal))
        {
            var m = GeneratedMethod(generated, name[4..])
                ?? throw new ArgumentException($"step '{label}': generated kernel '{name[4..]}' is not in the plan's kernel assembly");
            return m.CreateDelegate<KernelFn>();
        }

        throw new ArgumentException($"step '{label}': unknown kernel '{name}'");
    }

    /// <summary>Writes the plan, its kernel assembly and its weights to one file, with the SHA-256 of every section.</summary>
    /// <param name="path">Destination file.</param>
    public void Save(string path) => PlanFile.Write(this, path, null);

    /// <summary>
    /// Writes the plan like <see cref="Save(string)"/> and signs its header (which holds every section's SHA-256) with
    /// <paramref name="signingKey"/>, an ECDSA P-256 private key; loaders that list the key's public part in
    /// <see cref="PlanLoadOptions.TrustedKeys"/> accept the file.
    /// </summary>
    /// <param name="path">Destination file.</param>
    /// <param name="signingKey">An ECDSA P-256 key with its private part.</param>
    /// <exception cref="ArgumentException">The key is not a P-256 key.</exception>
    public void Save(string path, System.Security.Cryptography.ECDsa signingKey)
    {
        ArgumentNullException.ThrowIfNull(signingKey);
        PlanFile.Write(this, path, signingKey);
    }

    /// <summary>The public key bytes of <paramref name="key"/> as <see cref="PlanLoadOptions.TrustedKeys"/> lists them.</summary>
    /// <exception cref="ArgumentException">The key is not a P-256 key.</exception>
    public static byte[] PublicKeyOf(System.Security.Cryptography.ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return PlanFile.PublicKey(key);
    }

    /// <summary>
    /// Loads a plan written by <see cref="Save(string)"/> with <see cref="PlanLoadOptions.Default"/>: every section's
    /// SHA-256 and the plan's structure are checked before anything is loaded; weights are memory-mapped, not copied.
    /// </summary>
    /// <remarks>
    /// A plan file contains executable code (its generated kernels). The hashes catch damage and edits, not a hostile
    /// author: load unsigned plans only when you built them or trust their publisher, or require a signature by a key
    /// you trust with <see cref="Load(string, PlanLoadOptions)"/>.
    /// </remarks>
    /// <param name="path">The plan file.</param>
    /// <exception cref="PlanFormatException">The file is not a valid plan, was modified, fails verification, or holds generated IL kernels where no code can be loaded (NativeAOT); the message names the file and the problem.</exception>
    public static Plan Load(string path) => Load(path, PlanLoadOptions.Default);

    /// <summary>
    /// Loads a plan file under <paramref name="options"/>: with <see cref="PlanLoadOptions.TrustedKeys"/> set, only a plan
    /// signed by one of those keys loads. The signature, every section's SHA-256 and the plan's structure (field
    /// ranges, expression sizes, kernel names, buffer and argument records) are checked before the kernel assembly is
    /// loaded.
    /// </summary>
    /// <param name="path">The plan file.</param>
    /// <param name="options">What to trust.</param>
    /// <exception cref="PlanFormatException">The file is not a valid plan, was modified, is not signed by a trusted key, or fails verification.</exception>
    public static Plan Load(string path, PlanLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(options);
        var (def, asm, weights, dump, mapping) = PlanFile.Read(path, options);
        try
        {
            if (asm is not null && options.KernelGenerator is { } generator)
            {
                if (generator.Target != "cpu-il")
                {
                    throw new PlanFormatException($"{path}: the kernel generator builds '{generator.Target}' kernels but the plan's payload is 'cpu-il'");
                }

                var specs = KernelListing.Specs(path, dump ?? string.Empty);
                try
                {
                    asm = generator.Generate(specs);
                }
                catch (PlanFormatException e)
                {
                    throw new PlanFormatException($"{path}: {e.Message}", e);
                }
            }

            return new Plan(def, asm is null ? null : new IlKernelPayload(asm, dump ?? string.Empty), weights, mapping);
        }
        catch (Exception e) when (e is ArgumentException or BadImageFormatException or KeyNotFoundException or IndexOutOfRangeException or NotSupportedException)
        {
            (mapping as IDisposable)?.Dispose();
            throw new PlanFormatException($"{path}: {e.Message}", e);
        }
        catch (PlanFormatException)
        {
            (mapping as IDisposable)?.Dispose();
            throw;
        }
    }

    private struct StepBody : IParallelBody
    {
        public KernelFn Fn;
        public nint[] Slots;
        public long[] Args;

        public readonly void Invoke(int start, int end) => Fn(Slots, Args, start, end);
    }

    private readonly struct ArenaKey(long[] sizes) : IEquatable<ArenaKey>
    {
        private readonly long[] _sizes = sizes;

        public bool Equals(ArenaKey other) => _sizes.AsSpan().SequenceEqual(other._sizes);

        public override bool Equals(object? obj) => obj is ArenaKey k && Equals(k);

        public override int GetHashCode()
        {
            var h = new HashCode();
            foreach (long v in _sizes) h.Add(v);
            return h.ToHashCode();
        }
    }

    private readonly struct SymbolKey(long[] values) : IEquatable<SymbolKey>
    {
        private readonly long[] _values = values;

        public bool Equals(SymbolKey other) => _values.AsSpan().SequenceEqual(other._values);

        public override bool Equals(object? obj) => obj is SymbolKey k && Equals(k);

        public override int GetHashCode()
        {
            var h = new HashCode();
            foreach (long v in _values) h.Add(v);
            return h.ToHashCode();
        }
    }
}
