using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Onnx.Proto;
using Candle.Runtime.Tensors;

namespace Candle.Onnx;

/// <summary>
/// One node being imported: its inputs as values, its attributes, the opset of its domain, and errors that name the
/// file and the node.
/// </summary>
internal sealed class NodeImport
{
    private readonly IReadOnlyList<OnnxValue?> _inputs;
    private readonly string _file;
    private readonly string? _baseDir;
    private readonly Func<GraphProto, IReadOnlyList<OnnxValue>, OnnxValue[]>? _bodies;
    private readonly Action<long, long, string>? _charge;
    private readonly ImportBudget? _budget;

    public NodeImport(string file, string? baseDir, NodeProto proto, int index, long opset, IReadOnlyList<OnnxValue?> inputs,
        Func<GraphProto, IReadOnlyList<OnnxValue>, OnnxValue[]>? bodies = null, Action<long, long, string>? charge = null, ImportBudget? budget = null)
    {
        _charge = charge;
        _budget = budget;
        _file = file;
        _baseDir = baseDir;
        _bodies = bodies;
        Proto = proto;
        Opset = opset;
        _inputs = inputs;
        Label = string.IsNullOrEmpty(proto.Name) ? $"node #{index} ({proto.OpType})" : $"node '{proto.Name}' ({proto.OpType})";
        Attrs = new OnnxAttributes(this, proto.Attribute);
    }

    /// <summary>The node.</summary>
    public NodeProto Proto { get; }

    /// <summary>The opset version imported for the node's domain.</summary>
    public long Opset { get; }

    /// <summary>The attributes.</summary>
    public OnnxAttributes Attrs { get; }

    /// <summary>"node 'name' (OpType)", for messages.</summary>
    public string Label { get; }

    /// <summary>The number of inputs listed (absent optional ones included).</summary>
    public int InputCount => _inputs.Count;

    /// <summary>The number of outputs listed.</summary>
    public int OutputCount => Proto.Output.Count;

    /// <summary>True when input <paramref name="i"/> is given (listed and not empty).</summary>
    public bool HasInput(int i) => i < _inputs.Count && _inputs[i] is not null;

    /// <summary>Input <paramref name="i"/> as a value.</summary>
    public OnnxValue Value(int i) =>
        HasInput(i) ? _inputs[i]! : throw Import($"needs input {i}, which is missing");

    /// <summary>Input <paramref name="i"/> as a node.</summary>
    public Node Input(int i) =>
        Value(i).Node ?? throw Import(Value(i).Known is { } known
            ? $"input {i} is a shape with symbolic entries ({Describe(known)}), which the IR cannot hold as data"
            : $"input {i} is {Value(i).Kind}, where a tensor is expected");

    /// <summary>Input <paramref name="i"/> as a node, or null when absent.</summary>
    public Node? OptionalInput(int i) => HasInput(i) ? Input(i) : null;

    /// <summary>The values of input <paramref name="i"/> known at import time (constants and folded shapes), or null.</summary>
    public Dim[]? KnownDims(int i)
    {
        var v = Value(i);
        if (v.Known is not null) return v.Known;
        if (v.Node is null) return null;
        return v.Node is { } node && ConstantInts(node) is { } ints ? [.. ints.Select(Dim.Of)] : null;
    }

    /// <summary>
    /// Input <paramref name="i"/> as a small int64 scalar or vector known at import time (a folded shape or a constant),
    /// or null: what shape computations fold over.
    /// </summary>
    public (Dim[] Values, bool Scalar)? ShapeLike(int i)
    {
        if (!HasInput(i)) return null;
        var v = Value(i);
        if (v.Known is not null) return (v.Known, v.IsScalar);
        if (v.Node is not { } node || node.DType != Runtime.DType.I64 || node.Shape.Rank > 1 || !node.Shape.IsStatic || node.Shape.Numel.Value > 64) return null;
        return ConstantInts(node) is { } ints ? ([.. ints.Select(Dim.Of)], node.Shape.Rank == 0) : null;
    }

    /// <summary>The integer values of input <paramref name="i"/>, which must be constant at import time.</summary>
    public long[] ConstInts(int i, string what)
    {
        var dims = KnownDims(i) ?? throw Import($"needs {what} (input {i}) to be a constant or a shape computed from constants; it is computed at run time");
        if (dims.Any(d => !d.IsConstant)) throw Import($"needs {what} (input {i}) to be constant, but it is {Describe(dims)}");
        return [.. dims.Select(d => d.Value)];
    }

    /// <summary>The values of a constant tensor node as int64 (small constants only), or null.</summary>
    public static long[]? ConstantInts(Node node)
    {
        if (node.Op == Op.Constant)
        {
            var t = node.Attr<ConstantAttrs>().Data;
            if (t.ElementCount > 1 << 20) return null;
            if (!t.DType.IsFloat()) return t.ToInt64();
            var values = new long[t.ElementCount];
            for (long i = 0; i < values.Length; i++)
            {
                double d = t.GetDouble(i);
                if (d != Math.Floor(d) || Math.Abs(d) > 1L << 53) return null;
                values[i] = (long)d;
            }

            return values;
        }

        if (node.Op == Op.Arange && node.Shape.IsStatic && node.Shape.Numel.Value <= 1 << 20)
        {
            var a = node.Attr<ArangeAttrs>();
            var values = new long[node.Shape.Numel.Value];
            for (long i = 0; i < values.Length; i++)
            {
                double d = a.Start + (i * a.Step);
                if (d != Math.Floor(d)) return null;
                values[i] = (long)d;
            }

            return values;
        }

        if (node.Op == Op.Full && node.Shape.IsStatic)
        {
            var f = node.Attr<FullAttrs>();
            long n = node.Shape.Numel.Value;
            return n > 1 << 20 || f.Value != Math.Floor(f.Value) ? null : [.. Enumerable.Repeat((long)f.Value, (int)n)];
        }

        return node.Op == Op.Cast ? ConstantInts(node.Inputs[0]) : null;
    }

    /// <summary>
    /// Imports the body held by graph attribute <paramref name="attribute"/> with its inputs bound to
    /// <paramref name="inputs"/> (outer values visible), returning its outputs.
    /// </summary>
    public OnnxValue[] Body(string attribute, IReadOnlyList<OnnxValue> inputs)
    {
        var g = Proto.Attribute.FirstOrDefault(a => a.Name == attribute)?.G ?? throw Import($"needs graph attribute '{attribute}'");
        return _bodies is null ? throw Import("bodies cannot be imported here") : _bodies(g, inputs);
    }

    /// <summary>
    /// Charges the import's budget (<see cref="ImportBudget"/>) with what this node expands before it is built:
    /// <paramref name="nodes"/> IR nodes and <paramref name="elements"/> elements of constants computed at import,
    /// described by <paramref name="what"/> ("unrolling 70 steps"). Past the budget, an <see cref="OnnxImportException"/>
    /// naming the node, its op and the budget.
    /// </summary>
    public void Expand(long nodes, long elements, string what) => _charge?.Invoke(nodes, elements, what);

    /// <summary>The nodes charged to the import's budget so far (0 without a budget).</summary>
    public long ChargedNodes => _budget?.Nodes ?? 0;

    /// <summary>Gives back nodes charged ahead of time by <see cref="Expand"/> and not built.</summary>
    public void Refund(long nodes) => _budget?.Refund(nodes);

    /// <summary>Reads a tensor attribute or constant.</summary>
    public HostTensor ReadTensor(TensorProto t, string what) => OnnxTensors.ToHost(t, _file, $"{Label} {what}", _baseDir);

    /// <summary>An import error (unsupported op, attribute or shape) naming the file and the node.</summary>
    public OnnxImportException Import(string message) => new($"{_file}: {Label}: {message}");

    /// <summary>A format error (inconsistent node) naming the file and the node.</summary>
    public OnnxFormatException Format(string message) => new($"{_file}: {Label}: {message}");

    /// <summary>An axis attribute normalized against <paramref name="rank"/>.</summary>
    public int Axis(long axis, int rank, string what = "axis")
    {
        if (axis < -rank || axis >= rank) throw Import($"{what} {axis} is out of range for rank {rank}");
        return (int)(axis < 0 ? axis + rank : axis);
    }

    /// <summary>One output.</summary>
    public static OnnxValue[] One(Node node) => [new OnnxValue(node)];

    private static string Describe(IEnumerable<Dim> dims) => "[" + string.Join(", ", dims) + "]";
}
