using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Torch.Nn;

/// <summary>
/// The base of every layer (torch.nn.Module). Subclasses register their parameters, buffers and child modules
/// explicitly in their constructors; names join with dots exactly as PyTorch's state dicts
/// (<c>layers.0.self_attn.q_proj.weight</c>), so Hugging Face checkpoints load by name.
/// </summary>
public abstract class Module
{
    private readonly List<KeyValuePair<string, Parameter>> _parameters = [];
    private readonly List<KeyValuePair<string, ModuleBuffer>> _buffers = [];
    private readonly List<KeyValuePair<string, Module>> _children = [];

    /// <summary>
    /// Whether the module is in training mode (dropout active). Unlike PyTorch, a module starts in eval mode, so that a
    /// model built to be loaded and run is deterministic; <see cref="Train"/> switches it.
    /// </summary>
    public bool Training { get; private set; }

    /// <summary>Sets training mode to <paramref name="mode"/> on this module and every descendant (torch.nn.Module.train); returns this module.</summary>
    public Module Train(bool mode = true)
    {
        foreach (var (_, m) in NamedModules()) m.Training = mode;
        return this;
    }

    /// <summary>Puts this module and every descendant in eval mode (<c>Train(false)</c>); returns this module.</summary>
    public Module Eval() => Train(false);

    /// <summary>Registers a parameter under <paramref name="name"/> (no dots) and returns it.</summary>
    protected Parameter RegisterParameter(string name, Parameter parameter)
    {
        CheckName(name);
        ArgumentNullException.ThrowIfNull(parameter);
        _parameters.Add(new(name, parameter));
        parameter.SetName(name);
        return parameter;
    }

    /// <summary>Registers a parameter holding <paramref name="data"/> under <paramref name="name"/>.</summary>
    protected Parameter RegisterParameter(string name, HostTensor data) => RegisterParameter(name, new Parameter(data));

    /// <summary>Registers a buffer under <paramref name="name"/> and returns it.</summary>
    protected ModuleBuffer RegisterBuffer(string name, ModuleBuffer buffer)
    {
        CheckName(name);
        ArgumentNullException.ThrowIfNull(buffer);
        _buffers.Add(new(name, buffer));
        buffer.SetName(name);
        return buffer;
    }

    /// <summary>Registers a buffer holding <paramref name="data"/> under <paramref name="name"/>.</summary>
    protected ModuleBuffer RegisterBuffer(string name, HostTensor data, bool persistent = true) => RegisterBuffer(name, new ModuleBuffer(data, persistent));

    /// <summary>Registers a child module under <paramref name="name"/> and returns it.</summary>
    protected T RegisterModule<T>(string name, T module)
        where T : Module
    {
        CheckName(name);
        ArgumentNullException.ThrowIfNull(module);
        _children.Add(new(name, module));
        foreach (var (n, t) in module.NamedState()) t.SetName(name + "." + n);
        return module;
    }

    /// <summary>The direct children with their names.</summary>
    public IEnumerable<(string Name, Module Module)> NamedChildren() => _children.Select(kv => (kv.Key, kv.Value));

    /// <summary>This module ("") and every descendant with its dotted name, each module once.</summary>
    public IEnumerable<(string Name, Module Module)> NamedModules()
    {
        var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        return Walk(this, "", seen);

        static IEnumerable<(string, Module)> Walk(Module m, string prefix, HashSet<Module> seen)
        {
            if (!seen.Add(m)) yield break;
            yield return (prefix, m);
            foreach (var (n, c) in m._children)
            {
                foreach (var x in Walk(c, Join(prefix, n), seen)) yield return x;
            }
        }
    }

    /// <summary>Every parameter with its dotted name (each parameter object once, as PyTorch).</summary>
    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters()
    {
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var (prefix, m) in NamedModules())
        {
            foreach (var (n, p) in m._parameters)
            {
                if (seen.Add(p)) yield return (Join(prefix, n), p);
            }
        }
    }

    /// <summary>Every buffer with its dotted name.</summary>
    public IEnumerable<(string Name, ModuleBuffer Buffer)> NamedBuffers()
    {
        var seen = new HashSet<ModuleBuffer>(ReferenceEqualityComparer.Instance);
        foreach (var (prefix, m) in NamedModules())
        {
            foreach (var (n, b) in m._buffers)
            {
                if (seen.Add(b)) yield return (Join(prefix, n), b);
            }
        }
    }

    /// <summary>The parameters, in registration order.</summary>
    public IEnumerable<Parameter> Parameters() => NamedParameters().Select(p => p.Parameter);

    /// <summary>
    /// Parameters and persistent buffers by dotted name, in registration order (module by module, parameters before
    /// buffers), as torch's state_dict.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (n, t) in NamedState()) d[n] = t;
        return d;
    }

    /// <summary>
    /// Loads tensors by name (zero-copy: memory-mapped data must outlive the module): checks that each has the shape and dtype of the module's tensor, and lists missing and
    /// unexpected names. With <paramref name="strict"/> any missing or unexpected name raises. With
    /// <paramref name="castFloats"/> floating-point data of another float dtype (f16, bf16...) is converted to the
    /// module's dtype instead of raising.
    /// </summary>
    /// <exception cref="StateDictException">A tensor is mis-shaped or of another dtype, or (strict) names are missing or unexpected.</exception>
    public StateDictLoadResult LoadStateDict(IReadOnlyDictionary<string, HostTensor> stateDict, bool strict = true, bool castFloats = false)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        return Load(n => stateDict.TryGetValue(n, out var t) ? t : null, stateDict.Keys, strict, castFloats);
    }

    /// <summary>
    /// Loads tensors through <paramref name="lookup"/> (null for an absent name; zero-copy, so the source must outlive the module), for example from a memory-mapped
    /// checkpoint. Unexpected names are unknown here, so strict mode only reports missing ones unless
    /// <paramref name="availableNames"/> is given.
    /// </summary>
    /// <exception cref="StateDictException">A tensor is mis-shaped or of another dtype, or (strict) names are missing or unexpected.</exception>
    public StateDictLoadResult LoadStateDict(Func<string, HostTensor?> lookup, bool strict = true, bool castFloats = false, IEnumerable<string>? availableNames = null)
    {
        ArgumentNullException.ThrowIfNull(lookup);
        return Load(lookup, availableNames, strict, castFloats);
    }

    /// <summary>Converts every floating-point parameter and buffer to <paramref name="dtype"/>; returns this module.</summary>
    public Module To(DType dtype)
    {
        if (!dtype.IsFloat()) throw new ArgumentException($"module.to: {dtype.TorchName()} is not a floating-point dtype", nameof(dtype));
        foreach (var (_, t) in NamedState(includeTransient: true))
        {
            if (t.Data.DType.IsFloat() && t.Data.DType != dtype) t.ReplaceData(t.Data.Cast(dtype));
        }

        return this;
    }

    /// <summary>Moves every parameter and buffer to <paramref name="device"/>; returns this module.</summary>
    public Module To(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        foreach (var (_, t) in NamedState(includeTransient: true)) t.MoveTo(device);
        return this;
    }

    /// <summary>Sets every tensor's state-dict name relative to this module (what tracing names weights by).</summary>
    public void AssignStateNames()
    {
        foreach (var (n, t) in NamedState(includeTransient: true)) t.SetName(n);
    }

    /// <summary>The module's type name and children, one per line.</summary>
    public override string ToString()
    {
        var sb = new System.Text.StringBuilder(GetType().Name);
        if (_children.Count == 0) return sb.ToString();
        sb.Append("(\n");
        foreach (var (n, c) in _children)
        {
            sb.Append("  (").Append(n).Append("): ").Append(c.ToString().Replace("\n", "\n  ", StringComparison.Ordinal)).Append('\n');
        }

        return sb.Append(')').ToString();
    }

    /// <summary>Parameters, then buffers, module by module (transient buffers only when asked).</summary>
    internal IEnumerable<(string Name, StateTensor Tensor)> NamedState(bool includeTransient = false)
    {
        var seen = new HashSet<StateTensor>(ReferenceEqualityComparer.Instance);
        foreach (var (prefix, m) in NamedModules())
        {
            foreach (var (n, p) in m._parameters)
            {
                if (seen.Add(p)) yield return (Join(prefix, n), p);
            }

            foreach (var (n, b) in m._buffers)
            {
                if ((b.Persistent || includeTransient) && seen.Add(b)) yield return (Join(prefix, n), b);
            }
        }
    }

    private StateDictLoadResult Load(Func<string, HostTensor?> lookup, IEnumerable<string>? available, bool strict, bool castFloats)
    {
        var missing = new List<string>();
        var errors = new List<string>();
        var updates = new List<(StateTensor Target, HostTensor Data)>();
        var expected = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, target) in NamedState())
        {
            expected.Add(name);
            var src = lookup(name);
            if (src is null)
            {
                missing.Add(name);
                continue;
            }

            var want = target.Data;
            if (!src.Shape.SequenceEqual(want.Shape))
            {
                errors.Add($"'{name}': checkpoint shape [{string.Join(", ", src.Shape)}] does not match the module's shape [{string.Join(", ", want.Shape)}]");
                continue;
            }

            if (src.DType != want.DType)
            {
                if (castFloats && src.DType.IsFloat() && want.DType.IsFloat())
                {
                    src = src.Cast(want.DType);
                }
                else
                {
                    errors.Add($"'{name}': checkpoint dtype {src.DType.TorchName()} does not match the module's dtype {want.DType.TorchName()}" +
                        (src.DType.IsFloat() && want.DType.IsFloat() ? " (pass castFloats: true to convert)" : ""));
                    continue;
                }
            }

            updates.Add((target, src));
        }

        var unexpected = available?.Where(n => !expected.Contains(n)).Order(StringComparer.Ordinal).ToList() ?? [];
        if (strict && missing.Count > 0) errors.Add($"missing keys: {string.Join(", ", missing)}");
        if (strict && unexpected.Count > 0) errors.Add($"unexpected keys: {string.Join(", ", unexpected)}");
        if (errors.Count > 0)
        {
            throw new StateDictException($"error loading the state dict of {GetType().Name}:\n  " + string.Join("\n  ", errors));
        }

        foreach (var (t, d) in updates) t.SetData(d);
        return new StateDictLoadResult(missing, unexpected);
    }

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : prefix + "." + name;

    private void CheckName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('.', StringComparison.Ordinal)) throw new ArgumentException($"{GetType().Name}: name '{name}' must not contain '.'", nameof(name));
        if (_parameters.Any(p => p.Key == name) || _buffers.Any(b => b.Key == name) || _children.Any(c => c.Key == name))
        {
            throw new ArgumentException($"{GetType().Name}: '{name}' is already registered", nameof(name));
        }
    }
}
