using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using ILGPU;
using ILGPU.Runtime;
using Frame = Candle.Compiler.Gpu.GpuExecutable.Frame;

namespace Candle.Compiler.Gpu;

internal sealed partial class GpuLowering
{
    /// <summary>
    /// A sum or mean over leading rows of the products of two buffers (<see cref="ColumnReduceCall.X2"/>: a layer norm's
    /// weight gradient) as the column reduction's two launches, the products formed as the partials read them
    /// (<see cref="ColumnKernels.PartialProduct{TX, TXS}"/>), so the product is never written.
    /// </summary>
    private Action<Frame> ColumnProductReduce(ColumnReduceCall c)
    {
        var (xe, xs) = FloatStorage(c.XType, c.Label);
        var (ye, ys) = FloatStorage(c.YType, c.Label);
        var partial = GroupLauncher(Generic(typeof(ColumnKernels), nameof(ColumnKernels.PartialProduct), xe, xs));
        var finish = Launcher(Generic(typeof(ColumnKernels), nameof(ColumnKernels.Finish), ye, ys));
        bool mean = c.Op == Op.Mean;
        int group = Math.Min(ColumnKernels.GroupSize, device.Accelerator.MaxNumThreadsPerGroup);
        int width = Math.Min(ColumnKernels.Columns, group);
        int lanes = group / width;
        return f =>
        {
            long rows = f.Eval(c.Rows), columns = f.Eval(c.Columns);
            if (columns == 0) return;
            if (rows > int.MaxValue || columns > int.MaxValue)
            {
                throw new NotSupportedException($"{c.Label}: a column sum of [{rows}, {columns}] exceeds the kernel's 32-bit row and column indices");
            }

            var (chunks, chunkRows) = ColumnKernels.Chunks(rows, columns, width, lanes);
            var part = f.Workspace(checked(chunks * columns * sizeof(float)));
            int tiles = checked((int)((columns + width - 1) / width));
            partial.Begin().View(f.Slots[c.X]).View(f.Slots[c.X2]).View(part).Arg((int)rows).Arg((int)columns).Arg(chunkRows).Arg(tiles).Arg(width)
                .Launch(new KernelConfig(new Index1D(checked(tiles * chunks)), new Index1D(width * lanes)));
            finish.Begin().View(part).View(f.Slots[c.Y]).Arg((int)columns).Arg(chunks).Arg(mean ? (float)rows : 1f).Launch(columns);
        };
    }
}
