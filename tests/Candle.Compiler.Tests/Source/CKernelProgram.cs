using System.Runtime.InteropServices;
using Candle.Compiler.Backends.Source;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Tests.Source;

/// <summary>
/// A graph scheduled by <see cref="Scheduler"/> whose calls are all generated elementwise kernels (or row reductions
/// with a broadcast consumer), rendered by
/// <see cref="CRenderer"/>, compiled by clang into a shared library and run on native buffers built from the kernel
/// graph's buffers and the calls' operands (the IL kernels' argument order).
/// </summary>
internal sealed unsafe class CKernelProgram : IDisposable
{
    private readonly KernelGraph _kg;
    private readonly List<(KernelCall Call, nint Fn)> _calls = [];
    private readonly string _dir;
    private readonly nint _library;

    private CKernelProgram(KernelGraph kg, string source, IReadOnlyList<(KernelCall Call, string Name)> calls)
    {
        _kg = kg;
        Source = source;
        _dir = Directory.CreateTempSubdirectory("candle-c-").FullName;
        string lib = System.IO.Path.Combine(_dir, "libkernels.so");
        try
        {
            Clang.CompileShared(source, lib);
            _library = NativeLibrary.Load(lib);
        }
        catch
        {
            Directory.Delete(_dir, recursive: true);
            throw;
        }

        foreach (var (call, name) in calls) _calls.Add((call, NativeLibrary.GetExport(_library, name)));
    }

    /// <summary>The rendered C source.</summary>
    public string Source { get; }

    /// <summary>The scheduled calls' kernels.</summary>
    public IEnumerable<ElementwiseSpec> Kernels => _calls.Select(c => c.Call).OfType<ElementwiseCall>().Select(c => c.Kernel);

    /// <summary>Optimizes and schedules <paramref name="graph"/>, renders every call and compiles them.</summary>
    public static CKernelProgram Build(Graph graph, bool optimize = true)
    {
        var kg = Scheduler.Schedule(optimize ? CandleCompiler.Optimize(graph) : graph);
        var calls = new List<(KernelCall, string)>();
        foreach (var call in kg.Calls)
        {
            var e = call as ElementwiseCall ?? throw new InvalidOperationException($"expected only generated elementwise kernels, got {call.GetType().Name} ({call.Label})");
            calls.Add((e, $"kernel_{calls.Count}"));
        }

        string source = new CRenderer().Render(calls.Select(c => (c.Item2, ((ElementwiseCall)c.Item1).Kernel)));
        return new CKernelProgram(kg, source, calls);
    }

    /// <summary>
    /// Renders and compiles a scheduled kernel graph whose calls are generated elementwise kernels and row reductions
    /// with a broadcast consumer, the latter's accumulators following <paramref name="lanes"/> vector lanes.
    /// </summary>
    public static CKernelProgram Build(KernelGraph kg, int lanes)
    {
        var calls = new List<(KernelCall, string)>();
        foreach (var call in kg.Calls)
        {
            if (call is not (ElementwiseCall or BroadcastReductionCall)) throw new InvalidOperationException($"expected only generated kernels, got {call.GetType().Name} ({call.Label})");
            calls.Add((call, $"kernel_{calls.Count}"));
        }

        string source = new CRenderer().Render(
            calls.Where(c => c.Item1 is ElementwiseCall).Select(c => (c.Item2, ((ElementwiseCall)c.Item1).Kernel)),
            [],
            calls.Where(c => c.Item1 is BroadcastReductionCall).Select(c => (c.Item2, ((BroadcastReductionCall)c.Item1).Kernel)),
            lanes);
        return new CKernelProgram(kg, source, calls);
    }

    /// <summary>Runs every call over native buffers, each in <paramref name="pieces"/> index ranges, and returns the outputs.</summary>
    public HostTensor[] Run(HostTensor[] inputs, IReadOnlyDictionary<string, long> bindings, int pieces = 2)
    {
        var buffers = new byte*[_kg.Buffers.Count];
        try
        {
            for (int s = 0; s < buffers.Length; s++)
            {
                var b = _kg.Buffers[s];
                long bytes = b.Bytes.Evaluate(bindings);
                buffers[s] = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), 64);
                var span = new Span<byte>(buffers[s], checked((int)bytes));
                span.Fill(0xCD); // unwritten output elements show up as garbage
                switch (b.Kind)
                {
                    case BufferKind.Input: inputs[b.Index].Data.Span.CopyTo(span); break;
                    case BufferKind.Weight: _kg.Weights[b.Index].Data.Data.Span.CopyTo(span); break;
                }
            }

            fixed (byte** slots = buffers)
            {
                foreach (var (call, fn) in _calls)
                {
                    long[] args = [.. Args(call).Select(d => d.Evaluate(bindings))];
                    long numel = (call is BroadcastReductionCall r ? r.Rows : ((ElementwiseCall)call).Numel).Evaluate(bindings);
                    var kernel = (delegate* unmanaged<byte**, long*, long, long, void>)fn;
                    fixed (long* a = args)
                    {
                        long start = 0;
                        for (int p = 1; p <= pieces; p++)
                        {
                            long end = p == pieces ? numel : numel * p / pieces;
                            kernel(slots, a, start, end);
                            start = end;
                        }
                    }
                }
            }

            return [.. _kg.Outputs.Select(o =>
            {
                var t = HostTensor.Zeros(o.DType, [.. o.Shape.Select(d => checked((int)d.Evaluate(bindings)))]);
                new ReadOnlySpan<byte>(buffers[o.Buffer], t.Data.Length).CopyTo(t.Data.Span);
                return t;
            })];
        }
        finally
        {
            foreach (var p in buffers) NativeMemory.AlignedFree(p);
        }
    }

    /// <summary>The arguments as the CPU plan passes them to a generated kernel.</summary>
    private static List<Dim> Args(KernelCall call) => call is BroadcastReductionCall r
        ? [.. Candle.Compiler.Backends.Cpu.CpuPlanEmitter.BroadcastReductionArgs(r)]
        : [.. Candle.Compiler.Backends.Cpu.CpuPlanEmitter.ElementwiseArgs((ElementwiseCall)call)];

    /// <inheritdoc/>
    public void Dispose()
    {
        NativeLibrary.Free(_library);
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // A library still mapped on some platforms; the temp directory is left behind.
        }
    }
}
