using Candle.Runtime.Kernels.Cpu.Ops;

namespace Candle.Compiler.Ir;

/// <summary>
/// Declares an elementwise op by the runtime operator struct (<see cref="IElementwiseOp"/>) that defines its name,
/// runtime code, reference semantics and generated-kernel form.
/// </summary>
/// <param name="definition">The operator struct.</param>
internal abstract class ElementwiseAttribute(Type definition) : OpGroupAttribute
{
    /// <summary>The operator struct.</summary>
    public Type Definition { get; } = definition;
}
