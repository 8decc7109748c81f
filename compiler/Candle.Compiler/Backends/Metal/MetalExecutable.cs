using System.Runtime.InteropServices;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Runtime.Execution;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Metal;

/// <summary>
/// Runs a <see cref="MetalProgram"/>: binds symbols from the input shapes, allocates every buffer in memory the
/// device and the host share, uploads inputs and weights, dispatches the steps in order and reads the outputs back.
/// The kernels run on the given <see cref="IMslRunner"/>: a Metal device on macOS, the shim on other hosts.
/// </summary>
internal sealed unsafe class MetalExecutable : IExecutable
{
    private readonly MetalProgram _program;
    private readonly IMslRunner _runner;
    private const int ArgsBytes = 4096;
    private readonly Lock _gate = new();

    internal MetalExecutable(MetalProgram program, IMslRunner runner)
    {
        _program = program;
        _runner = runner;
    }

    /// <summary>The MSL payload.</summary>
    public MslKernelPayload Payload => _program.Payload;

    /// <summary>The program's steps.</summary>
    internal MetalProgram Program => _program;

    /// <inheritdoc/>
    public IReadOnlyList<string> InputNames => [.. _program.Graph.Inputs.Select(i => i.Name)];

    /// <inheritdoc/>
    public IReadOnlyList<string> OutputNames => [.. _program.Graph.Outputs.Select(o => o.Name)];

    /// <inheritdoc/>
    public HostTensor[] Run(IReadOnlyList<HostTensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var kg = _program.Graph;
        var env = Bind(inputs);
        var buffers = new nint[kg.Buffers.Count];
        var contents = new nint[kg.Buffers.Count];
        nint status = 0, args = 0;
        lock (_gate)
        {
            try
            {
                status = _runner.Allocate(16, out nint statusAt);
                args = _runner.Allocate(ArgsBytes, out nint argsAt);
                new Span<byte>((void*)statusAt, 16).Clear();
                for (int s = 0; s < buffers.Length; s++)
                {
                    var b = kg.Buffers[s];
                    long bytes = b.Bytes.Evaluate(env);
                    buffers[s] = _runner.Allocate(bytes, out contents[s]);
                    var span = new Span<byte>((void*)contents[s], checked((int)bytes));
                    switch (b.Kind)
                    {
                        case BufferKind.Input: inputs[b.Index].Data.Span.CopyTo(span); break;
                        case BufferKind.Weight: kg.Weights[b.Index].Data.Data.Span.CopyTo(span); break;
                        default: span.Clear(); break;
                    }
                }

                foreach (var step in _program.Steps) Execute(step, env, buffers, (status, statusAt), (args, argsAt));
                return [.. kg.Outputs.Select(o =>
                {
                    var t = HostTensor.Zeros(o.DType, [.. o.Shape.Select(d => checked((int)d.Evaluate(env)))]);
                    new ReadOnlySpan<byte>((void*)contents[o.Buffer], t.Data.Length).CopyTo(t.Data.Span);
                    return t;
                })];
            }
            finally
            {
                foreach (nint p in buffers) if (p != 0) _runner.Free(p);
                if (status != 0) _runner.Free(status);
                if (args != 0) _runner.Free(args);
            }
        }
    }

    private void Execute(MetalStep step, Dictionary<string, long> env, nint[] buffers, (nint Handle, nint At) status, (nint Handle, nint At) argBuffer)
    {
        switch (step)
        {
            case MetalCheck c:
                long start = c.Start.Evaluate(env), end = c.End.Evaluate(env), size = c.Size.Evaluate(env);
                if (start < 0 || start > end || end > size)
                {
                    throw new ArgumentOutOfRangeException(nameof(env), $"{c.Label}: range [{start}, {end}) is outside 0..{size}");
                }

                break;
            case MetalDispatch d:
                long[] args = [.. d.Args.Select(a => a.Evaluate(env))];
                if (args.Length * sizeof(long) > ArgsBytes) throw new NotSupportedException($"{d.Label}: {args.Length} kernel arguments exceed the argument buffer");
                args.CopyTo(new Span<long>((void*)argBuffer.At, args.Length));
                var grid = d.Grid(args);
                Span<nint> bound = stackalloc nint[d.Buffers.Length + 2];
                for (int i = 0; i < d.Buffers.Length; i++) bound[i] = d.Buffers[i] < 0 ? argBuffer.Handle : buffers[d.Buffers[i]];
                bound[d.Buffers.Length] = argBuffer.Handle;
                bound[d.Buffers.Length + 1] = status.Handle;
                string kernel = d.SelectKernel?.Invoke(args) ?? d.Kernel;
                _runner.Dispatch(kernel, bound, grid);
                long code = *(long*)status.At;
                if (code != 0) throw new IndexOutOfRangeException($"{d.Label}: an index is out of range (kernel {kernel}, code {code})");
                break;
        }
    }

    private Dictionary<string, long> Bind(IReadOnlyList<HostTensor> inputs)
    {
        var ins = _program.Graph.Inputs;
        if (inputs.Count != ins.Count)
        {
            throw new ArgumentException($"the program takes {ins.Count} inputs ({string.Join(", ", ins.Select(i => i.Name))}) but {inputs.Count} were given", nameof(inputs));
        }

        var env = new Dictionary<string, long>(StringComparer.Ordinal);
        for (int i = 0; i < ins.Count; i++)
        {
            var t = inputs[i] ?? throw new ArgumentException($"input '{ins[i].Name}' is null", nameof(inputs));
            if (t.DType != ins[i].DType || t.Rank != ins[i].Shape.Length)
            {
                throw new ArgumentException($"input '{ins[i].Name}' expects {ins[i].DType.TorchName()} of rank {ins[i].Shape.Length} but got {t}", nameof(inputs));
            }

            for (int d = 0; d < t.Rank; d++)
            {
                var dim = ins[i].Shape[d];
                if (!dim.IsConstant && dim.Symbols.Count() == 1 && dim == Ir.Dim.Sym(dim.Symbols.First())) env.TryAdd(dim.Symbols.First(), t.Shape[d]);
            }
        }

        for (int i = 0; i < ins.Count; i++)
        {
            for (int d = 0; d < inputs[i].Rank; d++)
            {
                long want = ins[i].Shape[d].Evaluate(env);
                if (want != inputs[i].Shape[d])
                {
                    throw new ArgumentException($"input '{ins[i].Name}' dim {d} must be {want} but got {inputs[i]}", nameof(inputs));
                }
            }
        }

        return env;
    }

    /// <inheritdoc/>
    public void Dispose() => _runner.Dispose();
}
