using System.Linq.Expressions;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Mem = Candle.Compiler.Gpu.GpuExecutable.Mem;

namespace Candle.Compiler.Gpu;

/// <summary>
/// The launch of one kernel from one step, without reflection or boxing: the step writes its arguments in order into
/// reusable slots (<see cref="View"/> for an <c>ArrayView&lt;T&gt;</c> parameter, <see cref="Arg(long)"/> and its
/// overloads for scalars), then <see cref="Launch(long)"/> or <see cref="Launch(KernelConfig)"/> calls ILGPU's
/// launcher through a typed delegate compiled once per kernel and device. An instance belongs to one step of one
/// executable (whose lock serializes its runs).
/// </summary>
internal sealed class KernelLauncher
{
    private readonly GpuDevice _device;
    private readonly MethodInfo _method;
    private readonly bool _grouped;
    private readonly int _groupSize;
    private readonly int[] _elementSizes;
    private readonly ArrayView<byte>[] _views;
    private readonly long[] _scalars;
    private readonly Dictionary<int, int> _maxGroup = [];
    private readonly Dictionary<int, int> _activeGroups = [];
    private Invoker? _invoker;
    private int _next;

    /// <summary>
    /// A launcher of <paramref name="method"/>: implicitly grouped (its first parameter an <see cref="Index1D"/>), in
    /// groups of <paramref name="groupSize"/> threads or (0) of ILGPU's occupancy-based size, or, when
    /// <paramref name="grouped"/>, explicitly grouped.
    /// </summary>
    public KernelLauncher(GpuDevice device, MethodInfo method, bool grouped, int groupSize = 0)
    {
        _device = device;
        _method = method;
        _grouped = grouped;
        _groupSize = grouped ? 0 : groupSize;
        var types = Parameters(method, grouped);
        _elementSizes = new int[types.Length];
        for (int i = 0; i < types.Length; i++)
        {
            if (types[i].IsGenericType && types[i].GetGenericTypeDefinition() == typeof(ArrayView<>))
            {
                _elementSizes[i] = System.Runtime.InteropServices.Marshal.SizeOf(types[i].GetGenericArguments()[0]);
            }
        }

        _views = new ArrayView<byte>[types.Length];
        _scalars = new long[types.Length];
    }

    /// <summary>The kernel's name (messages).</summary>
    public string Name => _method.Name;

    /// <summary>Starts a new argument list.</summary>
    public KernelLauncher Begin()
    {
        _next = 0;
        return this;
    }

    /// <summary>The next argument: an array view of the slot's memory from element <paramref name="elementOffset"/>.</summary>
    public KernelLauncher View(Mem m, long elementOffset = 0)
    {
        int i = _next++;
        long size = _elementSizes[i];
        if (size == 0) throw new InvalidOperationException($"{_method.Name}: parameter {i} is not an array view");
        long at = m.Offset + (elementOffset * size);
        long n = Math.Max(0, (m.Bytes - (elementOffset * size)) / size);
        _views[i] = m.Buffer.View(at, n * size);
        return this;
    }

    /// <summary>The next argument: an array view of the slot's memory from byte <paramref name="byteOffset"/> (views of <c>Quad</c>s).</summary>
    public KernelLauncher BytesView(Mem m, long byteOffset)
    {
        int i = _next++;
        long size = _elementSizes[i];
        if (size == 0) throw new InvalidOperationException($"{_method.Name}: parameter {i} is not an array view");
        long n = Math.Max(0, (m.Bytes - byteOffset) / size);
        _views[i] = m.Buffer.View(m.Offset + byteOffset, n * size);
        return this;
    }

    /// <summary>The next argument, a <see cref="long"/>.</summary>
    public KernelLauncher Arg(long value)
    {
        _scalars[_next++] = value;
        return this;
    }

    /// <summary>The next argument, an <see cref="int"/>.</summary>
    public KernelLauncher Arg(int value)
    {
        _scalars[_next++] = value;
        return this;
    }

    /// <summary>The next argument, a <see cref="float"/>.</summary>
    public KernelLauncher Arg(float value)
    {
        _scalars[_next++] = BitConverter.SingleToInt32Bits(value);
        return this;
    }

    /// <summary>Launches an implicitly grouped kernel over <paramref name="items"/> threads (nothing when none).</summary>
    public void Launch(long items)
    {
        if (items <= 0) return;
        if (items > int.MaxValue) throw new NotSupportedException($"{_method.Name}: {items} items exceed one launch");
        Check();
        var invoke = (Action<AcceleratorStream, Index1D, ArrayView<byte>[], long[]>)(_invoker ??= Resolve()).Delegate;
        invoke(_device.Stream, new Index1D((int)items), _views, _scalars);
    }

    /// <summary>Launches an explicitly grouped kernel with <paramref name="config"/> (nothing when the grid is empty).</summary>
    public void Launch(KernelConfig config)
    {
        if (config.GridDim.Size <= 0) return;
        Check();
        var invoke = (Action<AcceleratorStream, KernelConfig, ArrayView<byte>[], long[]>)(_invoker ??= Resolve()).Delegate;
        invoke(_device.Stream, config, _views, _scalars);
    }

    /// <summary>
    /// The largest group, a power of two of at most <paramref name="limit"/> threads, that the kernel compiled for this
    /// device can be launched with (its registers a thread bound it on CUDA: 1024 threads of a kernel taking more than 64
    /// registers each are refused), or 0 when not even one warp can; the limit itself on other accelerators.
    /// </summary>
    public int MaxGroupSize(int limit)
    {
        if (_maxGroup.TryGetValue(limit, out int known)) return known;
        int g = limit;
        if (_device.Kind == GpuKind.Cuda)
        {
            var kernel = _device.Kernel(_method, _grouped, _groupSize);
            int warp = _device.Accelerator.WarpSize;
            while (g >= warp && _device.Accelerator.EstimateMaxActiveGroupsPerMultiprocessor(kernel, g, 0) <= 0) g /= 2;
            if (g < warp) g = 0;
        }

        _maxGroup[limit] = g;
        return g;
    }

    /// <summary>
    /// Groups of <paramref name="groupSize"/> threads of this kernel that one multiprocessor keeps resident at once, by
    /// CUDA's occupancy estimate for the kernel compiled for this device (its registers and static shared memory, no
    /// dynamic shared memory); 0 on other accelerators, which report no such estimate.
    /// </summary>
    public int ActiveGroupsPerMultiprocessor(int groupSize)
    {
        if (_device.Kind != GpuKind.Cuda || groupSize <= 0) return 0;
        if (_activeGroups.TryGetValue(groupSize, out int known)) return known;
        var kernel = _device.Kernel(_method, _grouped, _groupSize);
        int active = Math.Max(0, _device.Accelerator.EstimateMaxActiveGroupsPerMultiprocessor(kernel, groupSize, 0));
        _activeGroups[groupSize] = active;
        return active;
    }

    /// <summary>
    /// Threads of this implicitly grouped kernel that the whole device keeps resident at once: its group size times
    /// <see cref="ActiveGroupsPerMultiprocessor"/> times the multiprocessors; null where that is not known (not CUDA,
    /// an occupancy-based group size, or an estimate of none).
    /// </summary>
    public long? ResidentThreads()
    {
        int active = ActiveGroupsPerMultiprocessor(_groupSize);
        return active > 0 ? (long)active * _groupSize * _device.Accelerator.NumMultiprocessors : null;
    }

    private void Check()
    {
        if (_next != _views.Length) throw new InvalidOperationException($"{_method.Name} takes {_views.Length} arguments, {_next} were given");
    }

    private Invoker Resolve() => _device.Invoker(_method, _grouped, _groupSize, () => Build(_device.Kernel(_method, _grouped, _groupSize), _method, _grouped));

    private static Type[] Parameters(MethodInfo method, bool grouped)
    {
        var ps = method.GetParameters();
        int skip = grouped ? 0 : 1;
        var types = new Type[ps.Length - skip];
        for (int i = 0; i < types.Length; i++) types[i] = ps[i + skip].ParameterType;
        return types;
    }

    /// <summary>
    /// The typed call of the kernel's ILGPU launcher: each parameter read from the argument slots (a byte view cast to
    /// its element type, a scalar narrowed or reinterpreted to its type).
    /// </summary>
    private static Invoker Build(Kernel kernel, MethodInfo method, bool grouped)
    {
        var types = Parameters(method, grouped);
        var dimType = grouped ? typeof(KernelConfig) : typeof(Index1D);
        var launcherType = Expression.GetDelegateType([typeof(AcceleratorStream), dimType, .. types, typeof(void)]);
        var create = typeof(Kernel).GetMethod(nameof(ILGPU.Runtime.Kernel.CreateLauncherDelegate))!.MakeGenericMethod(launcherType);
        var launcher = (Delegate)create.Invoke(kernel, null)!;
        var stream = Expression.Parameter(typeof(AcceleratorStream), "stream");
        var dim = Expression.Parameter(dimType, "dim");
        var views = Expression.Parameter(typeof(ArrayView<byte>[]), "views");
        var scalars = Expression.Parameter(typeof(long[]), "scalars");
        var args = new List<Expression> { stream, dim };
        var cast = typeof(ArrayView<byte>).GetMethod(nameof(ArrayView<byte>.Cast))!;
        for (int i = 0; i < types.Length; i++)
        {
            var t = types[i];
            var index = Expression.Constant(i);
            if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(ArrayView<>))
            {
                args.Add(Expression.Call(Expression.ArrayIndex(views, index), cast.MakeGenericMethod(t.GetGenericArguments()[0])));
                continue;
            }

            Expression raw = Expression.ArrayIndex(scalars, index);
            if (t == typeof(long)) args.Add(raw);
            else if (t == typeof(float)) args.Add(Expression.Call(typeof(BitConverter).GetMethod(nameof(BitConverter.Int32BitsToSingle))!, Expression.Convert(raw, typeof(int))));
            else if (t == typeof(double)) args.Add(Expression.Call(typeof(BitConverter).GetMethod(nameof(BitConverter.Int64BitsToDouble))!, raw));
            else if (t.IsPrimitive) args.Add(Expression.Convert(raw, t));
            else throw new NotSupportedException($"{method.Name}: parameter {i} of type {t.Name} has no launch slot");
        }

        var body = Expression.Invoke(Expression.Constant(launcher, launcherType), args);
        var lambdaType = grouped
            ? typeof(Action<AcceleratorStream, KernelConfig, ArrayView<byte>[], long[]>)
            : typeof(Action<AcceleratorStream, Index1D, ArrayView<byte>[], long[]>);
        return new Invoker(Expression.Lambda(lambdaType, body, stream, dim, views, scalars).Compile());
    }

    /// <summary>A compiled typed call of one kernel on one device, shared by the launchers of every plan there.</summary>
    internal sealed record Invoker(Delegate Delegate);
}
