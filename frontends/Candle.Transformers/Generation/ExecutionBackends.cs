using System.Collections.Concurrent;
using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Backends.Reference;

namespace Candle.Transformers.Generation;

/// <summary>
/// Resolves a backend name ("cpu", "reference", or any registered name) to the <see cref="IBackend"/> that compiles
/// a model's graphs. Generation and evaluation take the backend as a parameter; this is the string-keyed seam a
/// command line uses.
/// </summary>
public static class ExecutionBackends
{
    private static readonly ConcurrentDictionary<string, IBackend> Registered = new(StringComparer.Ordinal);

    /// <summary>The names that resolve without registration.</summary>
    public static IReadOnlyList<string> BuiltInNames { get; } = ["cpu", "reference"];

    /// <summary>Makes <paramref name="name"/> resolve to <paramref name="backend"/>.</summary>
    public static void Register(string name, IBackend backend)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(backend);
        Registered[name] = backend;
    }

    /// <summary>The backend called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">The name is unknown; the message lists the known ones.</exception>
    /// <exception cref="BackendUnavailableException">The backend exists but cannot run here.</exception>
    public static IBackend Get(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (Registered.TryGetValue(name, out var b)) return b;
        return name switch
        {
            "reference" => ReferenceBackend.Instance,
            "cpu" => Registered.GetOrAdd("cpu", _ => FindCpuBackend()),
            _ => throw new ArgumentException(
                $"unknown backend '{name}'; known: {string.Join(", ", BuiltInNames.Concat(Registered.Keys).Distinct().Order(StringComparer.Ordinal))}", nameof(name)),
        };
    }

    private static IBackend FindCpuBackend() => new CpuBackend();
}
