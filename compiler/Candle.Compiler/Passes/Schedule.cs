using System.Runtime.CompilerServices;
using Candle.Compiler.Ir;

namespace Candle.Compiler.Passes;

/// <summary>
/// An execution order for a graph's nodes chosen to lower peak memory, with the peak live-bytes estimates of the
/// default order and of this one. Attached to the graph it was computed for (see <see cref="For"/>).
/// </summary>
/// <param name="Order">Every node of the graph, operands first.</param>
/// <param name="PeakBytesBefore">Peak live bytes of <see cref="Graph.Nodes"/> order.</param>
/// <param name="PeakBytesAfter">Peak live bytes of <see cref="Order"/>.</param>
public sealed record Schedule(IReadOnlyList<Node> Order, long PeakBytesBefore, long PeakBytesAfter)
{
    private static readonly ConditionalWeakTable<Graph, Schedule> Attached = [];

    /// <summary>The schedule attached to <paramref name="graph"/>, or null.</summary>
    public static Schedule? For(Graph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return Attached.TryGetValue(graph, out var s) ? s : null;
    }

    /// <summary>Attaches <paramref name="schedule"/> to <paramref name="graph"/> (replacing any earlier one).</summary>
    public static void Attach(Graph graph, Schedule schedule)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(schedule);
        Attached.AddOrUpdate(graph, schedule);
    }
}
