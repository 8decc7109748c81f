using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime.Tensors;

namespace Candle.Torch;

/// <summary>Runs eager ops with the reference interpreter.</summary>
public sealed class ReferenceEagerExecutor : IEagerExecutor
{
    /// <summary>The shared instance.</summary>
    public static ReferenceEagerExecutor Instance { get; } = new();

    /// <inheritdoc/>
    public HostTensor Evaluate(Node node) => ReferenceInterpreter.Evaluate(node);
}
