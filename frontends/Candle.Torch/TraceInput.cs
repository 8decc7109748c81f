using System.Globalization;
using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Torch;

/// <summary>
/// Declares one input of a trace: a name, a dtype and dims, each a constant (int or long), a symbol name
/// (a string such as "seq") or a <see cref="Dim"/>.
/// </summary>
public sealed class TraceInput
{
    /// <summary>Creates the declaration.</summary>
    /// <exception cref="ArgumentException">A dim is not an int, long, string or <see cref="Dim"/>, or is negative.</exception>
    public TraceInput(string name, DType dtype, params object[] dims)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(dims);
        Name = name;
        DType = dtype;
        Shape = new Shape(dims.Select((d, i) => ToDim(name, i, d)));
    }

    /// <summary>Creates the declaration from a shape.</summary>
    public TraceInput(string name, DType dtype, Shape shape)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(shape);
        Name = name;
        DType = dtype;
        Shape = shape;
    }

    /// <summary>The input name.</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public DType DType { get; }

    /// <summary>The (possibly symbolic) shape.</summary>
    public Shape Shape { get; }

    /// <summary>
    /// Whether the caller hands this input's buffer over to the computation: a compiled plan may then write an output
    /// that is a <see cref="Tensor.SliceScatter"/> of it in place (a preallocated cache).
    /// </summary>
    public bool Donated { get; init; }

    /// <summary>The IR input node.</summary>
    public Node ToNode() => Donated ? IrBuilder.DonatedInput(Name, DType, Shape) : IrBuilder.Input(Name, DType, Shape);

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {DType.TorchName()}{Shape}";

    private static Dim ToDim(string name, int index, object d) => d switch
    {
        int i when i >= 0 => Dim.Of(i),
        long l when l >= 0 => Dim.Of(l),
        string s when !string.IsNullOrWhiteSpace(s) => Dim.Sym(s),
        Dim dim => dim,
        _ => throw new ArgumentException(
            $"trace input '{name}': dim {index} ({Convert.ToString(d, CultureInfo.InvariantCulture) ?? "null"}) must be a non-negative int or long, a symbol name or a Dim"),
    };
}
