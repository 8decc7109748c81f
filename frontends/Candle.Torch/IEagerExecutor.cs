using Candle.Compiler.Ir;
using Candle.Runtime.Tensors;

namespace Candle.Torch;

/// <summary>Evaluates a closed IR node (one with no Input leaves) at once; the engine behind eager tensors of a device.</summary>
public interface IEagerExecutor
{
    /// <summary>The value of <paramref name="node"/>, whose graph has no Input leaves.</summary>
    HostTensor Evaluate(Node node);
}
