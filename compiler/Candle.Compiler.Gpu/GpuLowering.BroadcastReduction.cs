using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Scheduling;
using ILGPU;
using ILGPU.Runtime;
using Frame = Candle.Compiler.Gpu.GpuExecutable.Frame;

namespace Candle.Compiler.Gpu;

internal sealed partial class GpuLowering
{
    /// <summary>
    /// A row reduction with a broadcast consumer (<see cref="BroadcastReductionCall"/>: softmax, norms and their
    /// gradients written from primitives, such as a layer norm's input gradient) as one launch of its generated
    /// kernel (<see cref="BroadcastReductionKernelEmitter"/>): one group per row, the device's group folds.
    /// </summary>
    private Action<Frame> BroadcastReduction(BroadcastReductionCall c)
    {
        string name = (rowKernelNames?.GetValueOrDefault(c.Kernel) ?? throw new InvalidOperationException($"no generated kernel for {c.Label}")) + (device.Kind == GpuKind.Cuda ? BroadcastReductionKernelEmitter.ShuffleSuffix : "");
        var l = GroupLauncher(generated?.GetMethod(name, Static) ?? throw new InvalidOperationException($"no generated kernel for {c.Label}"));
        var inputs = c.Inputs.ToArray();
        var shape = c.Shape;
        var values = new long[shape.Length];
        return f =>
        {
            long rows = f.Eval(c.Rows), length = f.Eval(c.RowLength);
            if (rows <= 0 || length <= 0) return;
            if (rows > int.MaxValue) throw new NotSupportedException($"{c.Label}: {rows} rows exceed the grid of one group per row");
            EvalInto(f, shape, values, 0);
            l.Begin().View(f.Slots[c.Output]);
            foreach (var k in inputs) l.View(f.Slots[k.Slot]);
            foreach (long v in values) l.Arg(v);
            foreach (var k in inputs)
            {
                l.Arg(f.Eval(k.Offset));
                foreach (var s in k.Strides) l.Arg(f.Eval(s));
            }

            l.Launch(new KernelConfig(new Index1D((int)rows), new Index1D(GroupFor(length, rows))));
        };
    }
}
