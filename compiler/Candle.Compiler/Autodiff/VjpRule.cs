using Candle.Compiler.Ir;

namespace Candle.Compiler.Autodiff;

/// <summary>
/// The vector-Jacobian product of one op: given a node and the gradient of the loss with respect to its value
/// (same dtype and shape), the gradient with respect to each of its inputs (same dtype and shape as that input), or
/// null for an input that receives none (integer indices, masks, conditions). A rule builds its result from the node,
/// its inputs and the gradient with <see cref="IrBuilder"/>, so the backward pass is an ordinary graph.
/// </summary>
/// <param name="node">The forward node (its value may be reused, e.g. exp's output).</param>
/// <param name="gradient">∂loss/∂node.</param>
/// <returns>One entry per input of <paramref name="node"/>.</returns>
public delegate Node?[] VjpRule(Node node, Node gradient);
