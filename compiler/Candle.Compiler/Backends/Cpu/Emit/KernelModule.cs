using System.Reflection;
using System.Reflection.Emit;
using System.Text;
using Candle.Runtime.Kernels.Cpu;
using Candle.Runtime.Plans;

namespace Candle.Compiler.Backends.Cpu.Emit;

/// <summary>
/// The generated kernels of one compilation: static methods with the <see cref="KernelFn"/> signature on the
/// type <see cref="Plan.GeneratedKernelsType"/> of a <see cref="PersistedAssemblyBuilder"/> assembly, saved to bytes
/// that a plan loads (and saves with itself). Equal kernels are emitted once.
/// </summary>
internal sealed class KernelModule
{
    private static readonly Type[] Signature = [typeof(nint[]), typeof(long[]), typeof(long), typeof(long)];
    private readonly PersistedAssemblyBuilder _assembly;
    private readonly TypeBuilder _type;
    private readonly Dictionary<string, string> _byKey = new(StringComparer.Ordinal);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly StringBuilder _dump = new();

    public KernelModule()
    {
        string name = "Candle.Kernels." + Guid.NewGuid().ToString("N");
        _assembly = new PersistedAssemblyBuilder(new AssemblyName(name), typeof(object).Assembly);
        var module = _assembly.DefineDynamicModule(name);
        _type = module.DefineType(Plan.GeneratedKernelsType, TypeAttributes.Public | TypeAttributes.Sealed | TypeAttributes.Abstract | TypeAttributes.Class);
    }

    public int Count => _names.Count;

    /// <summary>Returns the name of the kernel for <paramref name="key"/>, emitting it with <paramref name="emit"/> the first time.</summary>
    public string GetOrAdd(string key, string hint, Action<IlWriter> emit)
    {
        if (_byKey.TryGetValue(key, out var existing)) return existing;
        string name = $"k{_names.Count}_{hint}";
        Define(name, key, emit);
        return name;
    }

    /// <summary>Emits the kernel for <paramref name="key"/> under <paramref name="name"/> (a name not used before).</summary>
    public void Add(string name, string key, Action<IlWriter> emit)
    {
        if (_names.Contains(name)) throw new ArgumentException($"kernel '{name}' is defined twice", nameof(name));
        Define(name, key, emit);
    }

    private void Define(string name, string key, Action<IlWriter> emit)
    {
        _names.Add(name);
        var m = _type.DefineMethod(name, MethodAttributes.Public | MethodAttributes.Static | MethodAttributes.HideBySig, typeof(void), Signature);
        m.SetImplementationFlags(MethodImplAttributes.AggressiveOptimization);
        m.DefineParameter(1, ParameterAttributes.None, "slots");
        m.DefineParameter(2, ParameterAttributes.None, "args");
        m.DefineParameter(3, ParameterAttributes.None, "start");
        m.DefineParameter(4, ParameterAttributes.None, "end");
        _dump.Append(".method public static void ").Append(name).AppendLine("(native int[] slots, int64[] args, int64 start, int64 end)");
        _dump.Append("  // ").AppendLine(key);
        emit(new IlWriter(m.GetILGenerator(), _dump));
        _dump.AppendLine();
        _byKey[key] = name;
    }

    /// <summary>Finishes the type and saves the assembly; null when no kernel was emitted.</summary>
    public (byte[]? Bytes, string Dump) Build()
    {
        if (_names.Count == 0) return (null, string.Empty);
        _type.CreateType();
        using var ms = new MemoryStream();
        _assembly.Save(ms);
        return (ms.ToArray(), _dump.ToString());
    }
}
