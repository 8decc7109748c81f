using System.Globalization;

namespace Candle.Runtime.Weights.Gguf;

/// <summary>One typed GGUF metadata value: a scalar, a string or a <see cref="GgufArray"/>.</summary>
public sealed class GgufValue
{
    private GgufValue(GgufValueType type, object value)
    {
        Type = type;
        Value = value;
    }

    /// <summary>The stored type.</summary>
    public GgufValueType Type { get; }

    /// <summary>The value boxed as its .NET type (byte, sbyte, ushort, short, uint, int, float, bool, string, ulong, long, double or <see cref="GgufArray"/>).</summary>
    public object Value { get; }

    /// <summary>Makes an unsigned 8-bit value.</summary>
    public static GgufValue From(byte value) => new(GgufValueType.UInt8, value);

    /// <summary>Makes a signed 8-bit value.</summary>
    public static GgufValue From(sbyte value) => new(GgufValueType.Int8, value);

    /// <summary>Makes an unsigned 16-bit value.</summary>
    public static GgufValue From(ushort value) => new(GgufValueType.UInt16, value);

    /// <summary>Makes a signed 16-bit value.</summary>
    public static GgufValue From(short value) => new(GgufValueType.Int16, value);

    /// <summary>Makes an unsigned 32-bit value.</summary>
    public static GgufValue From(uint value) => new(GgufValueType.UInt32, value);

    /// <summary>Makes a signed 32-bit value.</summary>
    public static GgufValue From(int value) => new(GgufValueType.Int32, value);

    /// <summary>Makes a 32-bit float value.</summary>
    public static GgufValue From(float value) => new(GgufValueType.Float32, value);

    /// <summary>Makes a boolean value.</summary>
    public static GgufValue From(bool value) => new(GgufValueType.Bool, value);

    /// <summary>Makes a string value.</summary>
    public static GgufValue From(string value) => new(GgufValueType.String, value ?? throw new ArgumentNullException(nameof(value)));

    /// <summary>Makes an unsigned 64-bit value.</summary>
    public static GgufValue From(ulong value) => new(GgufValueType.UInt64, value);

    /// <summary>Makes a signed 64-bit value.</summary>
    public static GgufValue From(long value) => new(GgufValueType.Int64, value);

    /// <summary>Makes a 64-bit float value.</summary>
    public static GgufValue From(double value) => new(GgufValueType.Float64, value);

    /// <summary>Makes an array value.</summary>
    public static GgufValue From(GgufArray value) => new(GgufValueType.Array, value ?? throw new ArgumentNullException(nameof(value)));

    /// <summary>Wraps a boxed value of a known type (the caller guarantees they match).</summary>
    internal static GgufValue FromObject(GgufValueType type, object value) => new(type, value);

    /// <summary>The GGUF type of a .NET element type.</summary>
    internal static GgufValueType TypeOf(Type t) =>
        t == typeof(byte) ? GgufValueType.UInt8
        : t == typeof(sbyte) ? GgufValueType.Int8
        : t == typeof(ushort) ? GgufValueType.UInt16
        : t == typeof(short) ? GgufValueType.Int16
        : t == typeof(uint) ? GgufValueType.UInt32
        : t == typeof(int) ? GgufValueType.Int32
        : t == typeof(float) ? GgufValueType.Float32
        : t == typeof(bool) ? GgufValueType.Bool
        : t == typeof(string) ? GgufValueType.String
        : t == typeof(ulong) ? GgufValueType.UInt64
        : t == typeof(long) ? GgufValueType.Int64
        : t == typeof(double) ? GgufValueType.Float64
        : t == typeof(GgufArray) ? GgufValueType.Array
        : throw new ArgumentException($"{t.Name} is not a GGUF value type");

    /// <summary>True for the integer types.</summary>
    public bool IsInteger => Type is GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.UInt16 or GgufValueType.Int16
        or GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.UInt64 or GgufValueType.Int64;

    /// <summary>An integer of any width as a 64-bit signed integer.</summary>
    /// <exception cref="InvalidCastException">The value is not an integer, or a UInt64 above <see cref="long.MaxValue"/>.</exception>
    public long ToInt64() => Value switch
    {
        byte v => v,
        sbyte v => v,
        ushort v => v,
        short v => v,
        uint v => v,
        int v => v,
        long v => v,
        ulong v when v <= long.MaxValue => (long)v,
        _ => throw new InvalidCastException($"GGUF {Type} value {this} is not an integer that fits a long"),
    };

    /// <summary>Any number (integer or float) as a double.</summary>
    /// <exception cref="InvalidCastException">The value is not a number.</exception>
    public double ToDouble() => Value switch
    {
        float v => v,
        double v => v,
        ulong v => v,
        _ when IsInteger => ToInt64(),
        _ => throw new InvalidCastException($"GGUF {Type} value is not a number"),
    };

    /// <summary>The value as <typeparamref name="T"/>, which must be its exact .NET type.</summary>
    /// <exception cref="InvalidCastException">The value is of another type.</exception>
    public T As<T>() => Value is T t ? t : throw new InvalidCastException($"GGUF {Type} value is not a {typeof(T).Name}");

    /// <inheritdoc/>
    public override string ToString() => Value switch
    {
        string s => s,
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => Value.ToString() ?? string.Empty,
    };
}
