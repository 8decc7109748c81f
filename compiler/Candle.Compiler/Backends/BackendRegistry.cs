using System.Collections.Concurrent;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Backends.Metal;
using Candle.Compiler.Backends.Reference;

namespace Candle.Compiler.Backends;

/// <summary>
/// The backends by name: "cpu", "reference", "metal" and "metal-shim" are built in; other backends (a GPU backend from its own assembly)
/// register themselves. This is the one string-keyed seam (the command line's <c>--device</c>, configuration files);
/// code that has a backend passes it as <see cref="CompileOptions.Backend"/>.
/// </summary>
public static class BackendRegistry
{
    private static readonly ConcurrentDictionary<string, Lazy<IBackend>> Backends = new(StringComparer.Ordinal)
    {
        ["cpu"] = new(() => CpuBackend.Instance),
        ["reference"] = new(() => ReferenceBackend.Instance),
        ["metal"] = new(() => MetalBackend.ForThisHost),
        ["metal-shim"] = new(() => MetalBackend.ThroughShim),
    };

    /// <summary>The backend compilations use when none is given: the CPU.</summary>
    public static IBackend Default => CpuBackend.Instance;

    /// <summary>The registered names, sorted.</summary>
    public static IReadOnlyList<string> Names => [.. Backends.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Makes <paramref name="name"/> resolve to <paramref name="backend"/> (replacing an earlier registration).</summary>
    public static void Register(string name, IBackend backend)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(backend);
        Backends[name] = new(() => backend);
    }

    /// <summary>Makes <paramref name="name"/> resolve to the backend <paramref name="factory"/> creates on first use.</summary>
    public static void Register(string name, Func<IBackend> factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        Backends[name] = new(factory);
    }

    /// <summary>The backend called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">The name is unknown; the message lists the known ones.</exception>
    public static IBackend Get(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return Backends.TryGetValue(name, out var b)
            ? b.Value
            : throw new ArgumentException($"unknown backend '{name}'; known: {string.Join(", ", Names)}", nameof(name));
    }
}
