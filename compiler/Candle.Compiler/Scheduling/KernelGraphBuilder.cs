using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Scheduling;

/// <summary>Collects buffers, calls and weights while a graph is scheduled, then computes lifetimes.</summary>
internal sealed class KernelGraphBuilder
{
    private readonly List<(BufferKind Kind, int Index, Dim Bytes)> _buffers = [];
    private readonly List<KernelCall> _calls = [];
    private readonly List<KernelWeight> _weights = [];
    private readonly Dictionary<HostTensor, int> _weightSlots = new(ReferenceEqualityComparer.Instance);

    public int AddInput(int index, DType dtype, Shape shape) => Add(BufferKind.Input, index, shape.Numel * dtype.SizeInBytes());

    /// <summary>The slot of graph input <paramref name="index"/>, or -1.</summary>
    public int InputSlot(int index) => _buffers.FindIndex(b => b.Kind == BufferKind.Input && b.Index == index);

    public int AddWeight(HostTensor data, string? name)
    {
        if (_weightSlots.TryGetValue(data, out int slot)) return slot;
        string n = name ?? $"const{_weights.Count}";
        if (_weights.Any(w => w.Name == n)) n = $"{n}#{_weights.Count}";
        _weights.Add(new KernelWeight(n, data));
        slot = Add(BufferKind.Weight, _weights.Count - 1, Dim.Of(data.Data.Length));
        _weightSlots[data] = slot;
        return slot;
    }

    public int AddArena(DType dtype, IReadOnlyList<Dim> shape) =>
        Add(BufferKind.Arena, -1, shape.Aggregate(Dim.One, (a, d) => a * d) * dtype.SizeInBytes());

    public int AddOutput(int index, Dim bytes) => Add(BufferKind.Output, index, bytes);

    private int Add(BufferKind kind, int index, Dim bytes)
    {
        _buffers.Add((kind, index, bytes));
        return _buffers.Count - 1;
    }

    public BufferKind KindOf(int slot) => _buffers[slot].Kind;

    public Dim BytesOf(int slot) => _buffers[slot].Bytes;

    /// <summary>Turns an arena buffer into the given output.</summary>
    public void MakeOutput(int slot, int outputIndex) => _buffers[slot] = (BufferKind.Output, outputIndex, _buffers[slot].Bytes);

    public void Add(KernelCall call) => _calls.Add(call);

    /// <summary>The calls added so far, in order (a pass over the finished schedule may rewrite them).</summary>
    public List<KernelCall> Calls => _calls;

    public KernelGraph Build(IReadOnlyList<KernelTensor> inputs, IReadOnlyList<KernelTensor> outputs)
    {
        var first = new int[_buffers.Count];
        var last = new int[_buffers.Count];
        Array.Fill(first, -1);
        for (int s = 0; s < _calls.Count; s++)
        {
            foreach (int slot in _calls[s].Slots)
            {
                if (slot < 0) continue;
                if (first[slot] < 0) first[slot] = s;
                last[slot] = s;
            }
        }

        var buffers = _buffers.Select((b, i) => new KernelBuffer(b.Kind, b.Index, b.Bytes, Math.Max(first[i], 0), last[i])).ToList();
        return new KernelGraph(inputs, outputs, buffers, [.. _calls], [.. _weights]);
    }
}
