using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using Candle.Runtime;

namespace Candle.Compiler.Ir;

/// <summary>
/// The global hash-consing table. Entries hold nodes weakly, so graphs that are no longer referenced are
/// collected; dead entries are purged when the table doubles. Constants are interned per data object.
/// </summary>
internal static class NodeInterner
{
    private static readonly Dictionary<Key, WeakReference<Node>> Table = [];
    private static readonly ConditionalWeakTable<object, Node> Constants = [];
    private static readonly Lock Gate = new();
    private static int s_purgeAt = 4096;

    public static Node Intern(Op op, DType dtype, Shape shape, ImmutableArray<Node> inputs, OpAttrs? attrs)
    {
        if (attrs is ConstantAttrs c && c.Name is null)
        {
            lock (Gate)
            {
                if (Constants.TryGetValue(c.Data, out var existing))
                {
                    return existing;
                }

                var n = new Node(op, dtype, shape, inputs, attrs);
                Constants.Add(c.Data, n);
                return n;
            }
        }

        var key = new Key(op, dtype, shape, [.. inputs.Select(i => i.Id)], attrs);
        lock (Gate)
        {
            if (Table.TryGetValue(key, out var weak) && weak.TryGetTarget(out var found))
            {
                return found;
            }

            var node = new Node(op, dtype, shape, inputs, attrs);
            Table[key] = new WeakReference<Node>(node);
            if (Table.Count > s_purgeAt)
            {
                Purge();
            }

            return node;
        }
    }

    private static void Purge()
    {
        var dead = Table.Where(kv => !kv.Value.TryGetTarget(out _)).Select(kv => kv.Key).ToList();
        foreach (var k in dead)
        {
            Table.Remove(k);
        }

        s_purgeAt = Math.Max(4096, Table.Count * 2);
    }

    private sealed class Key : IEquatable<Key>
    {
        private readonly Op _op;
        private readonly DType _dtype;
        private readonly Shape _shape;
        private readonly long[] _inputs;
        private readonly OpAttrs? _attrs;
        private readonly int _hash;

        public Key(Op op, DType dtype, Shape shape, long[] inputs, OpAttrs? attrs)
        {
            _op = op;
            _dtype = dtype;
            _shape = shape;
            _inputs = inputs;
            _attrs = attrs;
            var h = new HashCode();
            h.Add(op);
            h.Add(dtype);
            h.Add(shape);
            foreach (long i in inputs) h.Add(i);
            h.Add(attrs);
            _hash = h.ToHashCode();
        }

        public bool Equals(Key? other) =>
            other is not null && _hash == other._hash && _op == other._op && _dtype == other._dtype &&
            _shape.Equals(other._shape) && _inputs.AsSpan().SequenceEqual(other._inputs) && Equals(_attrs, other._attrs);

        public override bool Equals(object? obj) => obj is Key k && Equals(k);

        public override int GetHashCode() => _hash;
    }
}
