using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Scheduling;
using Frame = Candle.Compiler.Gpu.GpuExecutable.Frame;

namespace Candle.Compiler.Gpu;

internal sealed partial class GpuLowering
{
    /// <summary>
    /// A multi-output elementwise call (<see cref="ElementwiseSpec.Stores"/>: an optimizer's new parameter and moments)
    /// as one launch of its general kernel (32-bit where every index fits): each thread reads its element of every
    /// input once and writes every output, so a parameter's update is one launch instead of one per output, each
    /// recomputing the moments.
    /// </summary>
    private Action<Frame> MultiOutput(ElementwiseCall e)
    {
        string name = kernelNames[e.Kernel];
        var wide = Launcher(generated?.GetMethod(name, Static) ?? throw new InvalidOperationException($"no generated kernel for {e.Label}"));
        var narrow = generated.GetMethod(name + ElementwiseKernelEmitter.NarrowSuffix, Static) is { } n ? Launcher(n) : null;
        var inputs = e.Inputs.ToArray();
        var stores = e.StoreSlots.ToArray();
        if (stores.Length != e.Kernel.Stores.Count)
        {
            throw new InvalidOperationException($"{e.Label}: {stores.Length} output buffers for the {e.Kernel.Stores.Count} further outputs of its kernel");
        }

        var shape = e.Shape;
        var numel = e.Numel;
        int output = e.Output;
        var launch = new ElementwiseLaunch(e.Kernel, GridStrideThreads);
        return f =>
        {
            long count = f.Eval(numel);
            if (count <= 0) return;
            EvalInto(f, shape, launch.Shape, 0);
            for (int k = 0; k < inputs.Length; k++)
            {
                launch.Offsets[k] = f.Eval(inputs[k].Offset);
                EvalInto(f, inputs[k].Strides, launch.Strides[k], 0);
            }

            var l = narrow is not null && launch.FitsNarrow(count) ? narrow : wide;
            ElementwiseLaunch.Trace?.Add((l == narrow ? ElementwiseLaunchKind.Narrow : ElementwiseLaunchKind.General, 0));
            GeneralArguments(l, f, f.Slots[output], inputs, shape.Length, launch);
            foreach (int s in stores) l.View(f.Slots[s]);
            l.Launch(count);
        };
    }
}
