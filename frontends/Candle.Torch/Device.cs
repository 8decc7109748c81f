namespace Candle.Torch;

/// <summary>
/// Where a tensor's eager ops run. Each device maps to an <see cref="IEagerExecutor"/> registered in
/// <see cref="EagerExecutors"/>; results are the same on every device (the reference interpreter defines them).
/// </summary>
public sealed class Device : IEquatable<Device>
{
    private Device(string name) => Name = name;

    /// <summary>The host CPU (the default device).</summary>
    public static Device Cpu { get; } = new("cpu");

    /// <summary>The reference interpreter: slow, exact, the executable specification.</summary>
    public static Device Reference { get; } = new("reference");

    /// <summary>The device name ("cpu", "reference", or a custom name).</summary>
    public string Name { get; }

    /// <summary>The device called <paramref name="name"/>: "cpu", "reference" or any other name an executor is registered for.</summary>
    public static Device Get(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return name switch
        {
            "cpu" => Cpu,
            "reference" => Reference,
            _ => new Device(name),
        };
    }

    /// <inheritdoc/>
    public bool Equals(Device? other) => other is not null && other.Name == Name;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Device d && Equals(d);

    /// <inheritdoc/>
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Name);

    /// <summary>Equality by name.</summary>
    public static bool operator ==(Device? a, Device? b) => a is null ? b is null : a.Equals(b);

    /// <summary>Inequality by name.</summary>
    public static bool operator !=(Device? a, Device? b) => !(a == b);

    /// <inheritdoc/>
    public override string ToString() => Name;
}
