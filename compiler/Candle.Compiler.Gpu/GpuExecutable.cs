using System.Globalization;
using System.Reflection;
using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Runtime.Devices;
using Candle.Runtime.Execution;
using Candle.Runtime.Kernels.Cpu;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using ILGPU;
using ILGPU.Runtime;

namespace Candle.Compiler.Gpu;

/// <summary>
/// A kernel graph lowered for a <see cref="GpuDevice"/>: every call is a kernel launch (or a cuBLAS call) queued on the
/// device's stream, so nothing comes back to the host between kernels. Weights are the device's shared copies;
/// intermediates live in one arena laid out by the <see cref="MemoryPlanner"/> and kept between calls;
/// <see cref="RunOnDevice"/> takes and returns device tensors so that state (a KV cache) stays resident.
/// </summary>
public sealed class GpuExecutable : IDeviceExecutable
{
    private readonly KernelGraph _graph;
    private readonly GpuDevice _device;
    private readonly Action<Frame>[] _steps;
    private readonly GpuLowering _lowering;
    private readonly DeviceBuffer[] _weights;
    private readonly DeviceBuffer _scratch;
    private readonly string[] _indexLabels;
    private readonly Lock _lock = new();
    private readonly string?[][] _inputSymbols;
    private readonly int[] _outputInput;
    private readonly Frame _frame;
    private readonly long[] _bytes, _offsets, _planned;
    private readonly int[] _first, _last;
    private long _total = -1;
    private long _layouts;
    private DeviceBuffer? _arena;
    private DeviceBuffer? _boundArena;
    private const int KeptGraphs = 4;
    private readonly List<DeviceBuffer>[] _heldOutputs;
    private readonly List<(long[] Key, CudaGraphs.Graph Graph)> _cudaGraphs = [];
    private readonly List<long[]> _recentKeys = [];
    private string? _graphFailure;
    private bool _disposed;

    internal GpuExecutable(KernelGraph graph, GpuDevice device, Type? generated, IReadOnlyDictionary<ElementwiseSpec, string> kernelNames, IReadOnlyDictionary<BroadcastReductionSpec, string>? rowKernelNames = null)
    {
        _graph = graph;
        _device = device;
        InputNames = [.. graph.Inputs.Select(i => i.Name)];
        OutputNames = [.. graph.Outputs.Select(o => o.Name)];
        _indexLabels = [.. graph.Calls.Where(c => c is IndexSelectCall or GatherCall or ScatterAddCall or QuantEmbeddingCall).Select(c => c.Label)];
        _lowering = new GpuLowering(device, generated, kernelNames, rowKernelNames);
        _steps = Lower(graph, _lowering);
        _weights = [.. graph.Weights.Select(w => device.Weight(w.Data))];
        _scratch = device.Allocate(16);
        _inputSymbols = [.. graph.Inputs.Select(i => i.Shape.Select(d => d.Symbols.ToList() is [var sym] && d == Dim.Sym(sym) ? sym : null).ToArray())];
        _outputInput = [.. graph.Outputs.Select(o => graph.Inputs.ToList().FindIndex(i => i.Buffer == o.Buffer))];
        int n = graph.Buffers.Count;
        _frame = new Frame(new Dictionary<string, long>(StringComparer.Ordinal), n);
        (_bytes, _offsets, _planned, _first, _last) = (new long[n], new long[n], new long[n], new int[n], new int[n]);
        for (int s = 0; s < n; s++)
        {
            var b = graph.Buffers[s];
            if (b.Kind == BufferKind.Arena) (_first[s], _last[s]) = (b.FirstCall, _lowering.LastUse(s, b.LastCall));
            else if (b.Kind == BufferKind.Weight) _frame.Slots[s] = new Mem(device.Own(_weights[b.Index]), 0, _weights[b.Index].Bytes);
        }

        _frame.Scratch = device.Own(_scratch);
        ClearIndexFlag();
        _frame.Device = device;
        _heldOutputs = [.. graph.Outputs.Select(_ => new List<DeviceBuffer>())];
    }

    /// <summary>
    /// The steps of every call, lowered before any device memory is taken; the calls without a GPU kernel are named
    /// together in one exception.
    /// </summary>
    private static Action<Frame>[] Lower(KernelGraph graph, GpuLowering lowering)
    {
        var steps = new Action<Frame>[graph.Calls.Count];
        var missing = new List<string>();
        lowering.Prepare(graph);
        for (int i = 0; i < steps.Length; i++)
        {
            try
            {
                steps[i] = lowering.Lower(graph.Calls[i]);
            }
            catch (NotSupportedException e)
            {
                if (!missing.Contains(e.Message)) missing.Add(e.Message);
            }
        }

        if (missing.Count == 1) throw new NotSupportedException(missing[0]);
        if (missing.Count > 1) throw new NotSupportedException($"{missing.Count} kinds of call have no GPU kernel: {string.Join("; ", missing)}");
        return steps;
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> InputNames { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>The device the executable runs on.</summary>
    public GpuDevice Device => _device;

    /// <inheritdoc/>
    Candle.Runtime.Devices.IDevice IDeviceExecutable.Device => _device;

    /// <summary>The kernel graph the executable runs.</summary>
    internal KernelGraph Kernels => _graph;

    /// <summary>The number of kernel calls of one run.</summary>
    public int CallCount => _steps.Length;

    /// <summary>
    /// How many calls the runs so far did not launch because a few-row product computed them on the fly (an rms_norm
    /// folded into the products that read it, a SwiGLU into its gate/up product; <c>CANDLE_GPU_FOLD</c>); a replayed CUDA graph counts nothing.
    /// </summary>
    public long FoldedSteps => _lowering.FoldedSteps;

    /// <summary>How many few-row products the runs so far launched staged (<c>CANDLE_GPU_GEMV_STAGED</c>); a replayed CUDA graph counts nothing.</summary>
    public long StagedSteps => _lowering.StagedSteps;

    /// <summary>
    /// Whether runs are recorded as CUDA graphs (recorded on CUDA only; off by default, on where
    /// <see cref="Candle.Compiler.Backends.CompileOptions.CaptureGraphs"/> asks and <c>CANDLE_GPU_GRAPHS</c> is not 0).
    /// When on, a run bound exactly as one of the four distinct bindings before it (the same symbol values, input and
    /// output buffers and arena) is recorded once with the driver's stream capture and then replayed with one graph
    /// launch whenever that binding comes again (four recordings are kept), so the host queues one launch instead of
    /// every call's. Outputs that are not donated inputs then come back, on every device, as views of buffers the
    /// executable holds: each output writes the first of its held buffers that is not an input of the run (a new one
    /// when all are), so one passed back as an input (a train step's parameter updated out of place) is not overwritten
    /// by the run that reads it, and runs that feed their outputs back cycle through a few bindings. A view stays valid
    /// until a run that does not take it as an input and is not to be disposed by the caller. A capture the driver
    /// refuses turns graphs off for this executable (<see cref="GraphStatus"/> says why) and the runs go on call by
    /// call.
    /// </summary>
    public bool CaptureGraphs { get; set; }

    /// <summary>Whether <c>CANDLE_GPU_GRAPHS=0</c> turns off the capture compile options ask for (A/B runs).</summary>
    internal static bool GraphsOff { get; } = Environment.GetEnvironmentVariable("CANDLE_GPU_GRAPHS") == "0";

    /// <summary>Runs with held outputs bound as one of the four distinct bindings before them (counted on every device).</summary>
    internal int RepeatedBindings { get; private set; }

    /// <summary>Runs served by replaying a recorded graph.</summary>
    public int GraphReplays { get; private set; }

    /// <summary>Graphs recorded (once per new binding that repeated).</summary>
    public int GraphCaptures { get; private set; }

    /// <summary>Why graph capture was turned off, or null.</summary>
    public string? GraphStatus => _graphFailure;

    /// <summary>Uploads the inputs, runs, downloads the outputs.</summary>
    /// <exception cref="ArgumentException">An input has the wrong count, dtype or shape, or an index is out of range.</exception>
    public HostTensor[] Run(IReadOnlyList<HostTensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var dev = new DeviceTensor[inputs.Count];
        try
        {
            for (int i = 0; i < inputs.Count; i++) dev[i] = DeviceTensor.Upload(inputs[i], _device);
            var outs = RunOnDevice(dev);
            try
            {
                var host = outs.Select(o => o.Download()).ToArray();
                lock (_lock) CheckIndexFlag();
                return host;
            }
            finally
            {
                foreach (var o in outs) o.Dispose();
            }
        }
        finally
        {
            foreach (var d in dev) d?.Dispose();
        }
    }

    /// <summary>
    /// Runs on tensors already on the device and returns the outputs there (an output that is a donated input's buffer
    /// comes back as a view of it). Only the kernels are queued; nothing is copied to the host.
    /// </summary>
    /// <exception cref="ArgumentException">An input has the wrong count, dtype, shape or device.</exception>
    public DeviceTensor[] RunOnDevice(IReadOnlyList<DeviceTensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (inputs.Count != _graph.Inputs.Count)
        {
            throw new ArgumentException($"expected {_graph.Inputs.Count} inputs ({string.Join(", ", InputNames)}), got {inputs.Count}", nameof(inputs));
        }

        lock (_lock)
        {
            var frame = _frame;
            var env = frame.Env;
            Bind(inputs, env);
            for (int i = 0; i < inputs.Count; i++)
            {
                var t = inputs[i];
                frame.Slots[_graph.Inputs[i].Buffer] = new Mem(_device.Own(t.Buffer), 0, t.Buffer.Bytes);
            }

            PlanArena(env);
            bool graphs = CaptureGraphs && _graphFailure is null && !GpuTiming.Enabled && !StepProfiler.Enabled;
            var outputs = new DeviceTensor[_graph.Outputs.Count];
            for (int o = 0; o < outputs.Length; o++)
            {
                var t = _graph.Outputs[o];
                var shape = new int[t.Shape.Length];
                for (int d = 0; d < shape.Length; d++) shape[d] = checked((int)t.Shape[d].Evaluate(env));
                var kind = _graph.Buffers[t.Buffer].Kind;
                if (kind == BufferKind.Input)
                {
                    outputs[o] = DeviceTensor.View(inputs[_outputInput[o]].Buffer, t.DType, shape);
                }
                else if (kind == BufferKind.Output && graphs)
                {
                    long bytes = t.DType.SizeInBytes() * shape.Aggregate(1L, (a, d) => a * d);
                    var held = Held(o, bytes, inputs);
                    outputs[o] = DeviceTensor.View(held, t.DType, shape);
                    frame.Slots[t.Buffer] = new Mem(_device.Own(held), 0, held.Bytes);
                }
                else if (kind == BufferKind.Output)
                {
                    outputs[o] = DeviceTensor.Allocate(_device, t.DType, shape);
                    frame.Slots[t.Buffer] = new Mem(_device.Own(outputs[o].Buffer), 0, outputs[o].Buffer.Bytes);
                }
                else
                {
                    throw new NotSupportedException($"output '{t.Name}' lives in a {kind} buffer, which the GPU executor does not hand out");
                }
            }

            if (GpuTiming.Enabled || StepProfiler.Enabled)
            {
                Profiled(frame);
            }
            else if (graphs)
            {
                RunGraph(frame, BindingKey(inputs, outputs));
            }
            else
            {
                Enqueue(frame);
            }

            return outputs;
        }
    }

    /// <summary>
    /// The buffer output <paramref name="o"/> is written to in a run with held outputs: the first of its held buffers
    /// whose memory no input of <paramref name="inputs"/> overlaps (an input may be a held output or a slice of one),
    /// reallocated when too small, or a new one when every held buffer is read (outside any recording: a recorded
    /// binding has its buffers).
    /// </summary>
    private DeviceBuffer Held(int o, long bytes, IReadOnlyList<DeviceTensor> inputs)
    {
        var pool = _heldOutputs[o];
        int k = pool.FindIndex(b => !inputs.Any(t => Overlap(t.Buffer, b)));
        if (k < 0)
        {
            pool.Add(_device.Allocate(bytes));
            return pool[^1];
        }

        if (pool[k].Bytes < bytes)
        {
            pool[k].Dispose();
            pool[k] = _device.Allocate(bytes);
        }

        return pool[k];
    }

    /// <summary>Whether two buffers of this device share any byte.</summary>
    private bool Overlap(DeviceBuffer x, DeviceBuffer y)
    {
        if (ReferenceEquals(x, y)) return true;
        if (x.Bytes == 0 || y.Bytes == 0) return false;
        long a = _device.Own(x).Address(0), b = _device.Own(y).Address(0);
        return a < b + y.Bytes && b < a + x.Bytes;
    }

    /// <summary>Queues the run call by call.</summary>
    private void Enqueue(Frame frame)
    {
        foreach (var step in _steps) step(frame);
    }

    private void ClearIndexFlag()
    {
        if (_indexLabels.Length > 0) _device.Own(_scratch).View(0, _scratch.Bytes).MemSetToZero(_device.Stream);
    }

    /// <summary>
    /// Replays a recorded graph whose binding is <paramref name="key"/>; records one when one of the four distinct
    /// bindings before was the same (on CUDA; elsewhere such a run is only counted), dropping the oldest recording
    /// beyond four; otherwise queues the run call by call.
    /// </summary>
    private void RunGraph(Frame frame, long[] key)
    {
        bool repeated = _recentKeys.Exists(k => k.AsSpan().SequenceEqual(key));
        if (repeated) RepeatedBindings++;
        else
        {
            _recentKeys.Add(key);
            if (_recentKeys.Count > KeptGraphs) _recentKeys.RemoveAt(0);
        }

        if (_device.Kind != GpuKind.Cuda)
        {
            Enqueue(frame);
            return;
        }

        nint stream = ((ILGPU.Runtime.Cuda.CudaStream)_device.Stream).StreamPtr;
        int found = _cudaGraphs.FindIndex(g => g.Key.AsSpan().SequenceEqual(key));
        if (found >= 0)
        {
            _cudaGraphs[found].Graph.Launch(stream);
            GraphReplays++;
            return;
        }

        if (repeated && CudaGraphs.Missing is null)
        {
            CudaGraphs.Graph? graph = null;
            try
            {
                _device.Accelerator.Bind();
                frame.Capturing = true;
                try
                {
                    graph = CudaGraphs.Capture(stream, () => Enqueue(frame));
                }
                finally
                {
                    frame.Capturing = false;
                }

                if (_cudaGraphs.Count == KeptGraphs)
                {
                    _cudaGraphs[0].Graph.Dispose();
                    _cudaGraphs.RemoveAt(0);
                }

                _cudaGraphs.Add((key, graph));
                GraphCaptures++;
                graph.Launch(stream);
                GraphReplays++;
                return;
            }
            catch (Exception e) when (e is InvalidOperationException or ILGPU.Runtime.Cuda.CudaException or AcceleratorException)
            {
                graph?.Dispose();
                _graphFailure = $"graph capture failed, running call by call: {e.Message}";
            }
        }
        else if (CudaGraphs.Missing is { } missing)
        {
            _graphFailure = missing;
        }

        Enqueue(frame);
    }

    /// <summary>
    /// What a recorded graph depends on: the symbol values, the input, output and arena addresses and sizes, the arena's
    /// layout and the step workspace's (which only grows outside a recording: a run after it grew is bound anew).
    /// </summary>
    private long[] BindingKey(IReadOnlyList<DeviceTensor> inputs, DeviceTensor[] outputs)
    {
        var key = new List<long>(_frame.Env.Count + (2 * (inputs.Count + outputs.Length)) + 2);
        foreach (var v in _frame.Env.Values) key.Add(v);
        foreach (var t in inputs.Concat(outputs))
        {
            var g = _device.Own(t.Buffer);
            key.Add(g.Address(0));
            key.Add(g.Bytes);
        }

        key.Add(_arena is null ? 0 : _device.Own(_arena).Address(0));
        key.Add(_layouts);
        key.Add(_frame.WorkGrowths);
        return [.. key];
    }

    /// <summary>
    /// Lays the arena buffers out for the bound sizes. The layout is kept while no buffer outgrows the size it was laid
    /// out for (a smaller buffer fits its old place), so a decode step whose buffers grow with the context neither
    /// re-plans nor reallocates per token: a buffer that outgrows its place is laid out again with half its size as
    /// headroom, and the arena grows the same way.
    /// </summary>
    private void PlanArena(Dictionary<string, long> env)
    {
        bool fits = _total >= 0 && ReferenceEquals(_arena, _boundArena);
        for (int s = 0; s < _bytes.Length; s++)
        {
            if (_graph.Buffers[s].Kind != BufferKind.Arena) continue;
            long b = _graph.Buffers[s].Bytes.Evaluate(env);
            _bytes[s] = b;
            fits &= b <= _planned[s];
        }

        if (!fits)
        {
            bool first = _total < 0;
            for (int s = 0; s < _bytes.Length; s++)
            {
                if (_graph.Buffers[s].Kind != BufferKind.Arena) continue;
                long b = _bytes[s];
                _planned[s] = first ? b : b > _planned[s] ? b + (b / 2) : _planned[s];
            }

            long total = MemoryPlanner.Assign(_planned, _first, _last, _offsets);
            if (_arena is null || _arena.Bytes < total)
            {
                _arena?.Dispose();
                _arena = _device.Allocate(first ? total : total + (total / 4));
            }

            _total = total;
            _layouts++;
            _boundArena = _arena;
        }

        var arena = _device.Own(_arena!);
        for (int s = 0; s < _bytes.Length; s++)
        {
            if (_graph.Buffers[s].Kind == BufferKind.Arena) _frame.Slots[s] = new Mem(arena, _offsets[s], _bytes[s]);
        }
    }

    /// <summary>Frees the arena (weights stay with the device, shared by its plans).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var (_, g) in _cudaGraphs) g.Dispose();
        _cudaGraphs.Clear();
        foreach (var b in _heldOutputs.SelectMany(p => p)) b.Dispose();
        _arena?.Dispose();
        _frame.Work?.Dispose();
        _frame.Flags?.Dispose();
        foreach (var b in _frame.Kept) b.Dispose();
        _scratch.Dispose();
    }

    /// <summary>
    /// Runs the steps one by one, each followed by a device synchronization, and adds each call's time to
    /// <see cref="StepProfiler"/> (by call) and <see cref="GpuTiming"/> (by kind, with the host's enqueue time) where on.
    /// </summary>
    private void Profiled(Frame frame)
    {
        _device.Accelerator.Synchronize();
        for (int i = 0; i < _steps.Length; i++)
        {
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            _steps[i](frame);
            long queued = System.Diagnostics.Stopwatch.GetTimestamp();
            _device.Accelerator.Synchronize();
            long done = System.Diagnostics.Stopwatch.GetTimestamp();
            var call = _graph.Calls[i];
            if (StepProfiler.Enabled) StepProfiler.Add(call.GetType().Name, call.Label, done - started, 1);
            if (GpuTiming.Enabled) GpuTiming.Add(call, frame.Eval, queued - started, done - started);
        }
    }

    /// <summary>The calls of one run in order, one a line: "kind: label".</summary>
    public string ListCalls() =>
        string.Join(Environment.NewLine, _graph.Calls.Select(c => $"{GpuTiming.KindOf(c)}: {c.Label}"));

    /// <summary>The calls of one run by kind (a matrix product by its operand dtypes): "kind ×count" in call order of first use.</summary>
    public string DescribeCalls() =>
        string.Join(", ", _graph.Calls.GroupBy(GpuTiming.KindOf).Select(g => $"{g.Key} x{g.Count()}"));

    /// <summary>
    /// Throws when a run since the last check read an index out of range. The kernels that take indices (gathers,
    /// embeddings, scatters) raise a flag on the device instead of reading or writing out of bounds; a run on device
    /// tensors does not wait for the device, so the flag is sticky: it is read here, after every queued run, and
    /// lowered again when it was raised. <see cref="Run"/> checks it after every run.
    /// </summary>
    /// <exception cref="ArgumentException">An index of a run since the last check was out of range (the message names
    /// the calls that take indices).</exception>
    public void CheckIndexes()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_lock) CheckIndexFlag();
    }

    private void CheckIndexFlag()
    {
        if (_indexLabels.Length == 0) return;
        Span<byte> flag = stackalloc byte[4];
        _device.CopyToHost(_scratch, 0, flag);
        if (flag[0] == 0) return;
        ClearIndexFlag();
        throw new ArgumentException($"an index is out of range in {string.Join(" or ", _indexLabels)}");
    }

    /// <summary>Binds the symbols of the inputs' shapes into <paramref name="env"/> and checks every input dim against them.</summary>
    private void Bind(IReadOnlyList<DeviceTensor> inputs, Dictionary<string, long> env)
    {
        env.Clear();
        for (int i = 0; i < inputs.Count; i++)
        {
            var want = _graph.Inputs[i];
            var t = inputs[i];
            if (t.DType != want.DType || t.Shape.Count != want.Shape.Length)
            {
                throw new ArgumentException($"input '{want.Name}' must be {want.DType.TorchName()}[{string.Join(", ", want.Shape.Select(d => d.ToString()))}], got {t}", nameof(inputs));
            }

            var syms = _inputSymbols[i];
            for (int d = 0; d < syms.Length; d++)
            {
                if (syms[d] is { } sym) env.TryAdd(sym, t.Shape[d]);
            }
        }

        for (int i = 0; i < inputs.Count; i++)
        {
            var want = _graph.Inputs[i];
            for (int d = 0; d < want.Shape.Length; d++)
            {
                long expect;
                try
                {
                    expect = want.Shape[d].Evaluate(env);
                }
                catch (KeyNotFoundException e)
                {
                    throw new ArgumentException($"input '{want.Name}': {e.Message}", nameof(inputs), e);
                }

                if (expect != inputs[i].Shape[d])
                {
                    throw new ArgumentException($"input '{want.Name}' dim {d} must be {want.Shape[d]} = {expect}, got {inputs[i].Shape[d]}", nameof(inputs));
                }
            }
        }
    }

    /// <summary>A slot's memory for one run: a buffer and a byte range of it.</summary>
    internal readonly record struct Mem(GpuBuffer Buffer, long Offset, long Bytes)
    {
        /// <summary>The memory as a view of <typeparamref name="T"/> from element <paramref name="elementOffset"/>.</summary>
        public ArrayView<T> View<T>(long elementOffset = 0)
            where T : unmanaged
        {
            long size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
            long at = Offset + (elementOffset * size);
            long n = Math.Max(0, (Bytes - (elementOffset * size)) / size);
            return Buffer.View(at, n * size).Cast<T>();
        }

        /// <summary>The device address of element <paramref name="elementOffset"/> of <paramref name="elementSize"/> bytes.</summary>
        public nint Pointer(long elementOffset, int elementSize) => Buffer.Address(Offset + (elementOffset * elementSize));
    }

    /// <summary>What the steps of one run share: symbol values and slot memory.</summary>
    internal sealed class Frame(Dictionary<string, long> env, int slots)
    {
        public Dictionary<string, long> Env { get; } = env;

        public Mem[] Slots { get; } = new Mem[slots];

        public GpuBuffer? Scratch { get; set; }

        /// <summary>The executable's device (for <see cref="Workspace"/>).</summary>
        public GpuDevice? Device { get; set; }

        /// <summary>Whether the steps are being recorded into a CUDA graph (no allocation may happen then).</summary>
        public bool Capturing { get; set; }

        /// <summary>The buffer behind <see cref="Workspace"/>, owned by the executable.</summary>
        public DeviceBuffer? Work { get; private set; }

        /// <summary>How many times <see cref="Work"/> was (re)allocated (part of a recorded graph's binding).</summary>
        public long WorkGrowths { get; private set; }

        /// <summary>The buffer behind <see cref="Counters"/>, owned by the executable.</summary>
        public DeviceBuffer? Flags { get; private set; }

        /// <summary>Device buffers steps keep across runs (a batched product's address arrays), freed with the executable.</summary>
        public List<DeviceBuffer> Kept { get; } = [];

        /// <summary>Keeps <paramref name="buffer"/> until the executable is disposed.</summary>
        public void Keep(DeviceBuffer buffer) => Kept.Add(buffer);

        public long Eval(Dim d) => d.Evaluate(Env);

        /// <summary>
        /// Temporary device memory of at least <paramref name="bytes"/> for one step (split-K partials): one buffer the
        /// executable keeps and grows (with headroom) when a run needs more, so a run bound as the run before it, the
        /// only kind that is recorded into a CUDA graph, never allocates; growing while recording is refused.
        /// </summary>
        /// <exception cref="InvalidOperationException">The buffer would grow while a graph is recorded.</exception>
        public Mem Workspace(long bytes)
        {
            if (Work is null || Work.Bytes < bytes)
            {
                if (Capturing) throw new InvalidOperationException($"the step workspace must grow to {bytes} bytes while a CUDA graph is recorded");
                Work?.Dispose();
                Work = Device!.Allocate(bytes + (bytes / 4));
                WorkGrowths++;
            }

            return new Mem(Device!.Own(Work), 0, Work.Bytes);
        }

        /// <summary>
        /// At least <paramref name="count"/> 32-bit counters that are zero before every step that takes them and that
        /// step leaves zero again (the one-launch decode attention's per-row tickets): a buffer of its own beside the
        /// workspace (which every step overwrites), zeroed when it is allocated or grown, never while a CUDA graph is
        /// recorded; a growth counts in <see cref="WorkGrowths"/> (the graph binding).
        /// </summary>
        /// <exception cref="InvalidOperationException">The buffer would grow while a graph is recorded.</exception>
        public Mem Counters(long count)
        {
            long bytes = count * sizeof(int);
            if (Flags is null || Flags.Bytes < bytes)
            {
                if (Capturing) throw new InvalidOperationException($"the step counters must grow to {bytes} bytes while a CUDA graph is recorded");
                Flags?.Dispose();
                Flags = Device!.Allocate(bytes + (bytes / 4));
                Device.Own(Flags).View(0, Flags.Bytes).MemSetToZero(Device.Stream);
                WorkGrowths++;
            }

            return new Mem(Device!.Own(Flags), 0, Flags.Bytes);
        }
    }
}
