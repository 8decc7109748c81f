using Candle.Onnx.Proto;
using Google.Protobuf;

namespace Candle.Onnx.Ops;

/// <summary>
/// Charges the import budget for all the copies of an unrolling before the first is built, with a lower bound of what
/// one copy costs read from the body without importing it (<see cref="LowerBound"/>: the copy, its nodes, and nested
/// loops whose trip counts are literals and whose conditions pass through unchanged, multiplied out). Each copy built
/// releases its share of the reservation before its nodes are charged (anything beyond the bound is charged as it is
/// imported), and
/// <see cref="Finish"/> gives back what a shorter run did not use. Hostile nesting (loops of 4096 inside loops of 4096)
/// therefore fails before a single copy is built.
/// </summary>
internal sealed class UnrollReservation
{
    private readonly NodeImport _node;
    private readonly long _perCopy;
    private long _reserved;
    private long _before;
    private long _released;

    /// <param name="node">The node unrolled.</param>
    /// <param name="copies">The copies it will make (0 when not known before they are built: nothing is reserved).</param>
    /// <param name="body">The body copied.</param>
    /// <param name="what">What a copy is ("iterations"), for the message.</param>
    public UnrollReservation(NodeImport node, long copies, GraphProto body, string what)
    {
        _node = node;
        if (copies <= 0) return;
        _perCopy = LowerBound(body, 0);
        _reserved = Multiply(copies, _perCopy);
        node.Expand(_reserved, 0, $"unrolling {copies} {what} of at least {_perCopy} nodes each");
    }

    /// <summary>Before a copy is built: releases its share of the reservation, which the copy's own charges take up.</summary>
    public void Begin()
    {
        _released = Math.Min(_perCopy, _reserved);
        _node.Refund(_released);
        _reserved -= _released;
        _before = _node.ChargedNodes;
    }

    /// <summary>After a copy is built: a copy that charged less than its released share (none should) is charged the rest.</summary>
    public void End()
    {
        long used = _node.ChargedNodes - _before;
        if (used < _released) _node.Expand(_released - used, 0, "the rest of a copy's reserved nodes");
    }

    /// <summary>Gives back what the copies did not use.</summary>
    public void Finish()
    {
        _node.Refund(_reserved);
        _reserved = 0;
    }

    /// <summary>
    /// True when a Loop body hands its condition input to its condition output unchanged (the same name, or one
    /// Identity): with a trip count, such a loop runs exactly that many iterations.
    /// </summary>
    public static bool PassesConditionThrough(GraphProto body)
    {
        if (body.Input.Count < 2 || body.Output.Count < 1) return false;
        string cin = body.Input[1].Name, cout = body.Output[0].Name;
        return cin == cout || body.Node.Any(x => x.OpType == "Identity" && x.Input.Count == 1 && x.Input[0] == cin && x.Output.Count == 1 && x.Output[0] == cout);
    }

    /// <summary>
    /// The fewest nodes one copy of <paramref name="body"/> charges: the copy itself, one per node, and for a nested Loop
    /// with a literal trip count (an int64 scalar initializer of the body) and a condition passed through, that many
    /// copies of its own body (saturating).
    /// </summary>
    public static long LowerBound(GraphProto body, int depth)
    {
        long total = 1 + body.Node.Count;
        if (depth >= 16) return total;
        foreach (var node in body.Node)
        {
            if (node.OpType != "Loop" || node.Domain is not ("" or "ai.onnx") || node.Input.Count < 2 || node.Input[1].Length != 0) continue;
            if (Literal(body, node.Input[0]) is not long trips || trips <= 0) continue;
            var inner = node.Attribute.FirstOrDefault(a => a.Name == "body")?.G;
            if (inner is null || !PassesConditionThrough(inner)) continue;
            total = Add(total, Multiply(trips, LowerBound(inner, depth + 1)));
        }

        return total;
    }

    private static long? Literal(GraphProto g, string name)
    {
        var t = g.Initializer.FirstOrDefault(i => i.Name == name);
        if (t is null || t.DataType != 7 || t.Dims.Count > 1 || t.Dims.Count == 1 && t.Dims[0] != 1) return null;
        if (t.Int64Data.Count == 1) return t.Int64Data[0];
        return t.RawData.Length == 8 ? BitConverter.ToInt64(t.RawData.Span) : null;
    }

    private static long Multiply(long a, long b) => a == 0 || b == 0 ? 0 : a > long.MaxValue / b ? long.MaxValue : a * b;

    private static long Add(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;
}
