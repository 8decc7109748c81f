using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Torch;

/// <summary>
/// A tensor with PyTorch's names and semantics over an IR <see cref="Compiler.Ir.Node"/>. Tensors are immutable:
/// every op returns a new tensor. Outside a trace an op whose operands hold data runs at once (eager mode) and its
/// result is a Constant node holding the data; inside <see cref="Tracer"/> ops only build the graph.
/// </summary>
public partial class Tensor
{
    private readonly Node? _node;

    /// <summary>Wraps <paramref name="node"/> as is.</summary>
    private protected Tensor(Node? node, Device device)
    {
        _node = node;
        Device = device;
    }

    /// <summary>The IR node this tensor stands for.</summary>
    public virtual Node Node => _node ?? throw new InvalidOperationException("tensor has no node");

    /// <summary>The device whose executor runs this tensor's eager ops.</summary>
    public Device Device { get; private protected set; }

    /// <summary>The (possibly symbolic) shape.</summary>
    public Shape Shape => Node.Shape;

    /// <summary>The element type.</summary>
    public DType DType => Node.DType;

    /// <summary>The number of dimensions.</summary>
    public int Rank => Node.Shape.Rank;

    /// <summary>The number of dimensions (PyTorch's <c>ndim</c>).</summary>
    public int NDim => Node.Shape.Rank;

    /// <summary>True when the tensor holds data (an eager tensor or a parameter); false for symbolic (traced) tensors.</summary>
    public bool HasData => Node.Op == Op.Constant;

    /// <summary>True for floating-point dtypes.</summary>
    public bool IsFloatingPoint => DType.IsFloat();

    /// <summary>The dtype and shape, as "float32[2, 3]".</summary>
    public string TypeString => Node.TypeString;

    /// <summary>The size of dimension <paramref name="dim"/> (negative counts from the end).</summary>
    /// <exception cref="InvalidOperationException">The dimension is symbolic; use <see cref="Shape"/> for symbolic dims.</exception>
    public long Size(int dim)
    {
        var d = Shape[Shape.Axis(dim, "size")];
        return d.TryGetConstant() ?? throw new InvalidOperationException($"size: dimension {dim} of {TypeString} is symbolic ({d}); use Shape[{dim}]");
    }

    /// <summary>All dimensions of a static shape.</summary>
    /// <exception cref="InvalidOperationException">A dimension is symbolic.</exception>
    public long[] Size() => [.. Enumerable.Range(0, Rank).Select(Size)];

    /// <summary>The number of elements of a static shape.</summary>
    /// <exception cref="InvalidOperationException">A dimension is symbolic.</exception>
    public long Numel() => Shape.Numel.TryGetConstant() ?? throw new InvalidOperationException($"numel: {TypeString} has symbolic dimensions");

    /// <summary>
    /// Wraps a node. Outside a trace, a node with no Input leaves is evaluated at once by the device's executor,
    /// so the tensor holds data.
    /// </summary>
    public static Tensor FromNode(Node node, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(node);
        return Wrap(node, device ?? Device.Cpu);
    }

    /// <summary>An eager tensor over <paramref name="data"/> (not copied; do not mutate it afterwards).</summary>
    public static Tensor FromHost(HostTensor data, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        return new Tensor(IrBuilder.Constant(data), device ?? Device.Cpu);
    }

    /// <summary>A float32 tensor copied from <paramref name="data"/>; no shape means 1-d.</summary>
    public static Tensor FromArray(float[] data, params long[] shape) => FromHost(HostTensor.FromArray(data, ShapeFor(data, shape)));

    /// <summary>A float64 tensor copied from <paramref name="data"/>; no shape means 1-d.</summary>
    public static Tensor FromArray(double[] data, params long[] shape) => FromHost(HostTensor.FromArray(data, ShapeFor(data, shape)));

    /// <summary>An int64 tensor copied from <paramref name="data"/>; no shape means 1-d.</summary>
    public static Tensor FromArray(long[] data, params long[] shape) => FromHost(HostTensor.FromArray(data, ShapeFor(data, shape)));

    /// <summary>An int32 tensor copied from <paramref name="data"/>; no shape means 1-d.</summary>
    public static Tensor FromArray(int[] data, params long[] shape) => FromHost(HostTensor.FromArray(data, ShapeFor(data, shape)));

    /// <summary>A float16 tensor copied from <paramref name="data"/>; no shape means 1-d.</summary>
    public static Tensor FromArray(System.Half[] data, params long[] shape) => FromHost(HostTensor.FromArray(data, ShapeFor(data, shape)));

    /// <summary>A uint8 tensor copied from <paramref name="data"/>; no shape means 1-d.</summary>
    public static Tensor FromArray(byte[] data, params long[] shape) => FromHost(HostTensor.FromArray(data, ShapeFor(data, shape)));

    /// <summary>A bool tensor copied from <paramref name="data"/>; no shape means 1-d.</summary>
    public static Tensor FromArray(bool[] data, params long[] shape) => FromHost(HostTensor.FromArray(data, ShapeFor(data, shape)));

    /// <summary>The data of an eager tensor (shared, not copied: do not mutate it).</summary>
    /// <exception cref="InvalidOperationException">The tensor is symbolic (it depends on trace inputs).</exception>
    public HostTensor ToHostTensor()
    {
        var n = Node;
        if (n.Op == Op.Constant) return n.Attr<ConstantAttrs>().Data;
        if (IsClosed(n)) return EagerExecutors.For(Device).Evaluate(n);
        throw new InvalidOperationException($"tensor {TypeString} is symbolic (it depends on trace inputs) and holds no data");
    }

    /// <summary>The elements as a new array of <typeparamref name="T"/>, which must match the dtype (float for float32, long for int64...).</summary>
    /// <exception cref="InvalidOperationException">The element type does not match the dtype, or the tensor is symbolic.</exception>
    public T[] ToArray<T>()
        where T : unmanaged
    {
        var want = typeof(T) switch
        {
            var t when t == typeof(float) => DType.F32,
            var t when t == typeof(double) => DType.F64,
            var t when t == typeof(long) => DType.I64,
            var t when t == typeof(int) => DType.I32,
            var t when t == typeof(sbyte) => DType.I8,
            var t when t == typeof(byte) => DType.U8,
            var t when t == typeof(bool) => DType.Bool,
            var t when t == typeof(System.Half) => DType.F16,
            var t => throw new InvalidOperationException($"ToArray: element type {t.Name} has no dtype"),
        };
        if (want != DType) throw new InvalidOperationException($"ToArray<{typeof(T).Name}>: tensor is {TypeString}; convert it with To(DType.{want}) first");
        return ToHostTensor().AsSpan<T>().ToArray();
    }

    /// <summary>The elements converted to float32 (any dtype).</summary>
    public float[] ToFloatArray() => ToHostTensor().ToFloat32();

    /// <summary>The elements converted to float64 (any dtype).</summary>
    public double[] ToDoubleArray() => ToHostTensor().ToFloat64();

    /// <summary>The elements converted to int64 (floats truncate toward zero).</summary>
    public long[] ToLongArray() => ToHostTensor().ToInt64();

    /// <summary>The single element of a one-element tensor, widened to double.</summary>
    /// <exception cref="InvalidOperationException">The tensor has more than one element or is symbolic.</exception>
    public double Item()
    {
        var h = ToHostTensor();
        if (h.ElementCount != 1) throw new InvalidOperationException($"item: tensor {TypeString} has {h.ElementCount} elements, not one");
        return h.GetDouble(0);
    }

    /// <summary>This tensor on <paramref name="device"/> (same data: all devices share host memory).</summary>
    public Tensor To(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return device == Device ? this : new Tensor(Node, device);
    }

    /// <summary>Returns this tensor (there are no gradients to detach from).</summary>
    public Tensor Detach() => this;

    /// <inheritdoc/>
    public override string ToString()
    {
        var sb = new StringBuilder("tensor(");
        if (HasData)
        {
            var h = ToHostTensor();
            const int limit = 16;
            var values = Enumerable.Range(0, (int)Math.Min(h.ElementCount, limit))
                .Select(i => h.GetDouble(i).ToString("G6", CultureInfo.InvariantCulture));
            sb.Append('[').Append(string.Join(", ", values)).Append(h.ElementCount > limit ? ", ...], " : "], ");
        }

        sb.Append(TypeString);
        if (Device != Device.Cpu) sb.Append(", device=").Append(Device.Name);
        return sb.Append(')').ToString();
    }

    /// <summary>Wraps a new node, evaluating it at once outside a trace when it has no Input leaves and no symbolic dims.</summary>
    internal static Tensor Wrap(Node node, Device device)
    {
        if (!Tracer.IsTracing && node.Op != Op.Constant && IsClosed(node))
        {
            var data = EagerExecutors.For(device).Evaluate(node);
            node = IrBuilder.Constant(data);
        }

        return new Tensor(node, device);
    }

    /// <summary>The common device of the operands of <paramref name="op"/>.</summary>
    internal static Device DeviceOf(string op, params Tensor?[] operands)
    {
        Device? d = null;
        foreach (var t in operands)
        {
            if (t is null) continue;
            if (d is null) d = t.Device;
            else if (d != t.Device)
            {
                throw new InvalidOperationException($"{op}: operands are on different devices ({d} and {t.Device})");
            }
        }

        return d ?? Device.Cpu;
    }

    private static bool IsClosed(Node root)
    {
        var seen = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Node>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (n.Op == Op.Input || !n.Shape.IsStatic) return false;
            if (n.Op == Op.Constant || !seen.Add(n)) continue;
            foreach (var i in n.Inputs) stack.Push(i);
        }

        return true;
    }

    private static int[] ShapeFor<T>(T[] data, long[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (shape.Length == 0) return [data.Length];
        long count = 1;
        foreach (long d in shape)
        {
            if (d < 0 || d > int.MaxValue) throw new ArgumentException($"invalid shape [{string.Join(", ", shape)}]", nameof(shape));
            count *= d;
        }

        if (count != data.Length)
        {
            throw new ArgumentException($"{data.Length} values do not fill shape [{string.Join(", ", shape)}] ({count} elements)", nameof(data));
        }

        return [.. shape.Select(d => (int)d)];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Tensor W(Node node) => Wrap(node, Device);
}
