namespace Candle.Compiler.Ir;

/// <summary>
/// A graph is ill-formed: an op got shapes, dtypes or attributes it cannot take.
/// The message names the op, the input shapes and dtypes, and the problem.
/// </summary>
public sealed class IrException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    public IrException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public IrException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public IrException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>Builds a message "op(f32[2, 3], f32[4]): problem".</summary>
    public static IrException For(Op op, IEnumerable<Node> inputs, string problem) =>
        new($"{op.Name()}({string.Join(", ", inputs.Select(i => i.TypeString))}): {problem}");
}
