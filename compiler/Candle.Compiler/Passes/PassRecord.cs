namespace Candle.Compiler.Passes;

/// <summary>What one pass did: its time, node and kernel counts before and after, and whether it changed the graph.</summary>
/// <param name="Pass">The pass name.</param>
/// <param name="Elapsed">Wall time of the pass (verification excluded).</param>
/// <param name="NodesBefore">Nodes before.</param>
/// <param name="NodesAfter">Nodes after.</param>
/// <param name="KernelsBefore">Kernel-count estimate before.</param>
/// <param name="KernelsAfter">Kernel-count estimate after.</param>
/// <param name="Changed">Whether the pass returned a different graph.</param>
public sealed record PassRecord(string Pass, TimeSpan Elapsed, int NodesBefore, int NodesAfter, int KernelsBefore, int KernelsAfter, bool Changed);
