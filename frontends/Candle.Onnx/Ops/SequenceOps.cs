using Candle.Compiler.Ir;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// Sequences and optionals resolved at import: a sequence is a list of values known while importing (its length is
/// static), so SequenceConstruct/Empty/Insert/Erase/At/Length, SplitToSequence, ConcatFromSequence and SequenceMap (its
/// body imported once per element) become list operations and ordinary IR nodes; an optional is its value, or none.
/// Positions must be known at import. A sequence or optional cannot cross the graph's boundary (inputs, outputs).
/// </summary>
internal static class SequenceOps
{
    /// <summary>The most elements a sequence may have.</summary>
    private const int MaxLength = 4096;

    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["SequenceEmpty"] = _ => [Sequence([])];
        t["SequenceConstruct"] = n => [Sequence([.. Enumerable.Range(0, n.InputCount).Select(i => Tensor(n, i))])];
        t["SequenceLength"] = n => [OnnxValue.FromDims([Dim.Of(Items(n, 0).Count)], scalar: true)];
        t["SequenceAt"] = n =>
        {
            var items = Items(n, 0);
            return [items[Position(n, 1, items.Count, insert: false) ?? throw n.Import("needs position (input 1)")]];
        };
        t["SequenceInsert"] = n =>
        {
            var items = Items(n, 0).ToList();
            int at = Position(n, 2, items.Count, insert: true) ?? items.Count;
            items.Insert(at, Tensor(n, 1));
            return [Sequence(items)];
        };
        t["SequenceErase"] = n =>
        {
            var items = Items(n, 0).ToList();
            if (items.Count == 0) throw n.Import("cannot erase from an empty sequence");
            items.RemoveAt(Position(n, 1, items.Count, insert: false) ?? items.Count - 1);
            return [Sequence(items)];
        };
        t["SplitToSequence"] = SplitToSequence;
        t["ConcatFromSequence"] = ConcatFromSequence;
        t["SequenceMap"] = SequenceMap;
        t["Optional"] = n => n.HasInput(0) ? [n.Value(0)] : [new OnnxValue(null) { IsNone = true }];
        t["OptionalHasElement"] = n => NodeImport.One(Constant(HostTensor.FromArray(new[] { n.HasInput(0) && !n.Value(0).IsNone }, [])));
        t["OptionalGetElement"] = n => n.HasInput(0) && !n.Value(0).IsNone ? [n.Value(0)] : throw n.Import("the optional is empty");
    }

    private static OnnxValue Sequence(List<OnnxValue> items) => new(null) { Items = items };

    private static IReadOnlyList<OnnxValue> Items(NodeImport n, int i) =>
        n.Value(i).Items ?? throw n.Import($"input {i} must be a sequence, got a tensor");

    private static OnnxValue Tensor(NodeImport n, int i)
    {
        var v = n.Value(i);
        if (v.Items is not null || v.IsNone) throw n.Import($"input {i} must be a tensor, got a {(v.IsNone ? "empty optional" : "sequence")}");
        return v;
    }

    /// <summary>A position input known at import, normalized (−length ≤ p &lt; length, or ≤ length when inserting); null when absent.</summary>
    private static int? Position(NodeImport n, int i, int length, bool insert)
    {
        if (!n.HasInput(i)) return null;
        long[] p = n.ConstInts(i, "position");
        if (p.Length != 1) throw n.Import($"position (input {i}) must be one value");
        long at = p[0] < 0 ? p[0] + length : p[0];
        if (at < 0 || at > length || at == length && !insert) throw n.Import($"position {p[0]} is out of range for a sequence of {length}");
        return (int)at;
    }

    private static OnnxValue[] SplitToSequence(NodeImport n)
    {
        var x = n.Input(0);
        int axis = n.Axis(n.Attrs.Int("axis", 0), x.Shape.Rank);
        long length = x.Shape[axis].TryGetConstant() ?? throw n.Import($"needs a constant length along axis {axis}, got {x.Shape}");
        var sizes = new List<long>();
        if (!n.HasInput(1))
        {
            if (length > MaxLength) throw n.Import($"splits {length} elements, more than the {MaxLength} a sequence may hold");
            bool keep = n.Attrs.Int("keepdims", 1) != 0;
            var parts = new List<OnnxValue>();
            for (long i = 0; i < length; i++) parts.Add(new OnnxValue(keep ? Narrow(x, axis, Dim.Of(i), Dim.One) : Select(x, axis, i)));
            return [Sequence(parts)];
        }

        long[] split = n.ConstInts(1, "split");
        if (n.Value(1).Node is { } splitNode ? splitNode.Shape.Rank == 0 : n.Value(1).IsScalar)
        {
            long chunk = split[0];
            if (chunk < 1) throw n.Import($"split {chunk} must be positive");
            if ((length + chunk - 1) / chunk > MaxLength) throw n.Import($"splits into more than the {MaxLength} elements a sequence may hold");
            for (long at = 0; at < length; at += chunk) sizes.Add(Math.Min(chunk, length - at));
        }
        else
        {
            if (split.Any(s => s < 0) || split.Sum() != length) throw n.Import($"split [{string.Join(", ", split)}] does not add up to {length}");
            if (split.Length > MaxLength) throw n.Import($"splits into more than the {MaxLength} elements a sequence may hold");
            sizes.AddRange(split);
        }

        var items = new List<OnnxValue>();
        long start = 0;
        foreach (long size in sizes)
        {
            items.Add(new OnnxValue(Narrow(x, axis, Dim.Of(start), Dim.Of(size))));
            start += size;
        }

        return [Sequence(items)];
    }

    private static OnnxValue[] ConcatFromSequence(NodeImport n)
    {
        var items = Items(n, 0);
        if (items.Count == 0) throw n.Import("cannot concatenate an empty sequence");
        var nodes = items.Select((v, i) => v.Node ?? throw n.Import($"sequence element {i} is not a tensor")).ToList();
        bool newAxis = n.Attrs.Int("new_axis", 0) != 0;
        int axis = n.Axis(n.Attrs.Int("axis"), nodes[0].Shape.Rank + (newAxis ? 1 : 0));
        return NodeImport.One(newAxis ? Stack(nodes, axis) : Concat(nodes, axis));
    }

    /// <summary>SequenceMap: the body once per element of the sequences (the first input's length), tensor inputs passed whole.</summary>
    private static OnnxValue[] SequenceMap(NodeImport n)
    {
        int count = Items(n, 0).Count;
        var outputs = new List<List<OnnxValue>>();
        for (int e = 0; e < count; e++)
        {
            var bound = new List<OnnxValue>();
            for (int i = 0; i < n.InputCount; i++)
            {
                var v = n.Value(i);
                if (v.Items is { } items)
                {
                    if (items.Count != count) throw n.Import($"input {i} has {items.Count} elements, input 0 has {count}");
                    bound.Add(items[e]);
                }
                else
                {
                    bound.Add(v);
                }
            }

            var results = n.Body("body", bound);
            for (int k = 0; k < results.Length; k++)
            {
                if (outputs.Count <= k) outputs.Add([]);
                outputs[k].Add(results[k]);
            }
        }

        return [.. Enumerable.Range(0, n.OutputCount).Select(k => Sequence(k < outputs.Count ? outputs[k] : []))];
    }
}
