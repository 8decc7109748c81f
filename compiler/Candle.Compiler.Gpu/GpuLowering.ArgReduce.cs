using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using ILGPU;
using ILGPU.Runtime;
using Frame = Candle.Compiler.Gpu.GpuExecutable.Frame;

namespace Candle.Compiler.Gpu;

internal sealed partial class GpuLowering
{
    /// <summary>The longest row <see cref="RowKernels.ArgReduce{TX, TXS, TR}"/> takes: its indexes are exact in f32.</summary>
    internal const long MaxArgReduceRow = 1L << 24;

    /// <summary>
    /// argmax or argmin of each row of a float tensor into i64 (<see cref="RowKernels.ArgReduce{TX, TXS, TR}"/>): one
    /// group per row with the row reductions' group folds, so a greedy step's token is chosen on the device from a
    /// vocabulary-wide row.
    /// </summary>
    private Action<Frame> ArgReduce(ReduceCall c)
    {
        if (c.YType != DType.I64) throw new NotSupportedException($"{c.Label}: {c.Op.Name()} must produce i64, not {c.YType.TorchName()}");
        var (xe, xs) = Storage(c.XType, c.Label);
        var l = GroupLauncher(Generic(typeof(RowKernels), nameof(RowKernels.ArgReduce), xe, xs, device.Reducer));
        int min = c.Op == Op.ArgMin ? 1 : 0;
        return f =>
        {
            long rows = f.Eval(c.Rows), len = f.Eval(c.RowLength);
            if (rows == 0) return;
            if (len == 0) throw new ArgumentException($"{c.Label}: {c.Op.Name()} of an empty row has no index");
            if (len > MaxArgReduceRow) throw new NotSupportedException($"{c.Label}: {c.Op.Name()} over rows of {len} elements (the GPU backend takes at most {MaxArgReduceRow})");
            if (rows > int.MaxValue) throw new NotSupportedException($"{c.Label}: {rows} rows exceed the grid of one group per row");
            l.Begin().View(f.Slots[c.X]).View(f.Slots[c.Y]).Arg((int)len).Arg(min)
                .Launch(new KernelConfig(new Index1D((int)rows), new Index1D(GroupFor(len, rows))));
        };
    }
}
