using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using ILGPU;
using ILGPU.Runtime;
using Frame = Candle.Compiler.Gpu.GpuExecutable.Frame;

namespace Candle.Compiler.Gpu;

/// <summary>
/// The persistent, software-pipelined row kernels (<see cref="PipelinedRowKernels"/>) behind
/// <see cref="RowsPipelinedVariable"/>: where the register-held kernels (<see cref="HeldRowKernels"/>) would take an
/// rms_norm (with or without weight and residual), a softmax or a log_softmax and a row fits two octets a thread, the
/// launch has as many groups as the device keeps resident (CUDA's occupancy estimate of the kernel; a few on ILGPU's
/// CPU accelerator, so its tests loop over rows), each looping over rows with the next row's loads in flight.
/// Anything else (unaligned operands, longer rows, no estimate) keeps the held or earlier kernels.
/// </summary>
internal sealed partial class GpuLowering
{
    /// <summary>Set to 1, rms_norm and softmax take <see cref="PipelinedRowKernels"/> where they apply (A/B runs; off by default).</summary>
    internal const string RowsPipelinedVariable = "CANDLE_GPU_ROWS_PIPELINED";

    /// <summary>When set on a thread, every pipelined row launch the thread makes appends its rows, grid, group and whether it adds a residual (tests).</summary>
    [ThreadStatic]
    internal static List<(long Rows, int Grid, int Group, bool Residual)>? PipelinedTrace;

    /// <summary>Groups of a pipelined row launch on accelerators without an occupancy estimate (ILGPU's CPU accelerator).</summary>
    internal const int PipelinedCpuGroups = 3;

    /// <summary>Whether softmax and rms_norm take <see cref="PipelinedRowKernels"/> (<see cref="RowsPipelinedVariable"/> is 1 and the held kernels apply).</summary>
    /// <exception cref="InvalidOperationException">The variable is set to something other than 0 or 1.</exception>
    private bool PipelinedRows => HeldRows && Environment.GetEnvironmentVariable(RowsPipelinedVariable) switch
    {
        null or "" or "0" => false,
        "1" => true,
        var v => throw new InvalidOperationException($"{RowsPipelinedVariable} must be 0 or 1, not '{v}'"),
    };

    /// <summary>
    /// The grid and group of a pipelined launch over <paramref name="rows"/> rows of <paramref name="octets"/> octets, or
    /// null where it does not apply: the held kernels' group (<see cref="HeldGroup"/>) when it gives each thread at most
    /// <see cref="PipelinedRowKernels.MaxOctetsPerThread"/> octets, and as many groups as resident at once (never more
    /// than the rows).
    /// </summary>
    internal (int Grid, int Group)? PipelinedShape(long rows, long octets, KernelLauncher kernel)
    {
        if (rows <= 0 || rows > int.MaxValue || octets > int.MaxValue) return null;
        int group = HeldGroup(rows, octets, kernel);
        if (group <= 0 || (long)group * PipelinedRowKernels.MaxOctetsPerThread < octets) return null;
        long resident;
        if (device.Kind == GpuKind.Cuda)
        {
            int active = kernel.ActiveGroupsPerMultiprocessor(group);
            if (active <= 0) return null;
            resident = (long)active * device.Accelerator.NumMultiprocessors;
        }
        else
        {
            resident = PipelinedCpuGroups;
        }

        return ((int)Math.Min(rows, resident), group);
    }

    /// <summary>
    /// The pipelined launch of an rms_norm call, or null where the switch is off or the call is a layer_norm: given the
    /// frame, rows and row length, it launches and returns true, or returns false where the kernel does not apply.
    /// </summary>
    private Func<Frame, long, long, bool>? PipelinedNorm(NormCall c)
    {
        if (c.Op == Op.LayerNorm || !PipelinedRows || OctetStorage(c.DType) is not { } os) return null;
        var l = GroupLauncher(Generic(typeof(PipelinedRowKernels), nameof(PipelinedRowKernels.RmsNorm), os, device.Reducer));
        return (f, rows, len) =>
        {
            if (len % 8 != 0 || PipelinedShape(rows, len / 8, l) is not { } shape) return false;
            var x = f.Slots[c.X];
            var w = c.Weight >= 0 ? f.Slots[c.Weight] : x;
            var (y, residual, sum) = (f.Slots[c.Y], c.Residual >= 0 ? f.Slots[c.Residual] : x, c.Sum >= 0 ? f.Slots[c.Sum] : x);
            if (!(Aligned(x) && Aligned(w) && Aligned(residual) && Aligned(sum) && Aligned(y))) return false;
            l.Begin().BytesView(x, 0).BytesView(w, 0).BytesView(residual, 0).BytesView(sum, 0).BytesView(y, 0)
                .Arg((int)rows).Arg((int)(len / 8)).Arg(c.Weight >= 0 ? 1 : 0).Arg(c.Residual >= 0 ? 1 : 0).Arg((float)c.Eps)
                .Launch(new KernelConfig(new Index1D(shape.Grid), new Index1D(shape.Group)));
            PipelinedTrace?.Add((rows, shape.Grid, shape.Group, c.Residual >= 0));
            return true;
        };
    }

    /// <summary>The pipelined launch of a softmax or log_softmax call (as <see cref="PipelinedNorm"/>), or null where the switch is off.</summary>
    private Func<Frame, long, long, bool>? PipelinedSoftmax(RowCall c)
    {
        if (!PipelinedRows || OctetStorage(c.XType) is not { } os) return null;
        var l = GroupLauncher(Generic(typeof(PipelinedRowKernels), nameof(PipelinedRowKernels.Softmax), os, device.Reducer));
        int log = c.Op == Op.LogSoftmax ? 1 : 0;
        return (f, rows, len) =>
        {
            if (len % 8 != 0 || PipelinedShape(rows, len / 8, l) is not { } shape) return false;
            var (x, y) = (f.Slots[c.X], f.Slots[c.Y]);
            if (!(Aligned(x) && Aligned(y))) return false;
            l.Begin().BytesView(x, 0).BytesView(y, 0).Arg((int)rows).Arg((int)(len / 8)).Arg(log)
                .Launch(new KernelConfig(new Index1D(shape.Grid), new Index1D(shape.Group)));
            PipelinedTrace?.Add((rows, shape.Grid, shape.Group, false));
            return true;
        };
    }
}
