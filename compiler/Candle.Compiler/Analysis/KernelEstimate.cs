using Candle.Compiler.Ir;

namespace Candle.Compiler.Analysis;

/// <summary>
/// Estimates how many kernels a backend launches for a graph: one per computing node or fused group.
/// Leaves (inputs, constants, fills, ranges) and pure views (reshape, expand) launch nothing.
/// </summary>
public static class KernelEstimate
{
    /// <summary>True when <paramref name="node"/> is expected to launch a kernel of its own.</summary>
    public static bool IsKernel(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        // The further outputs of a multi-output group are computed by its first output's kernel.
        return !node.Op.IsLeaf() && node.Op is not (Op.Reshape or Op.Expand) && !(node.Op == Op.Fused && node.Attr<FusedAttrs>().Output > 0);
    }

    /// <summary>The number of kernels <paramref name="graph"/> needs.</summary>
    public static int Count(Graph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return graph.Nodes.Count(IsKernel);
    }
}
