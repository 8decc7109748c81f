using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:index_select</c> (<see cref="GatherKernels.IndexSelect"/>), out[o, j, i] = x[o, index[j], i]
/// on contiguous tensors: <c>x, elementSize, index, indexDType, y, outer, axisLength, inner, indexCount</c>. Work items
/// are (o, j) pairs; the kernel range-checks each index against axisLength.
/// </summary>
internal readonly record struct IndexSelectArgs<T>(T X, T ElementSize, T Index, T IndexDType, T Y, T Outer, T AxisLength, T Inner, T IndexCount)
{
    /// <summary>The positional encoding of a plan step.</summary>
    public T[] Encode() => [X, ElementSize, Index, IndexDType, Y, Outer, AxisLength, Inner, IndexCount];
}

/// <summary>Kernel name, decoding and accesses of <see cref="IndexSelectArgs{T}"/>.</summary>
internal static class IndexSelectArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:index_select";

    /// <summary>Reads the arguments without checks (the kernel's hot path).</summary>
    public static IndexSelectArgs<long> Read(long[] a) => new(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]);

    /// <summary>Reads and checks the arguments.</summary>
    public static IndexSelectArgs<long> Decode(long[] a)
    {
        ArgCheck.Count(a, 9, 9);
        var p = Read(a);
        ArgCheck.Slot(p.X, "x");
        if (p.ElementSize is not (1 or 2 or 4 or 8)) throw new PlanFormatException($"element size {p.ElementSize} is not 1, 2, 4 or 8");
        ArgCheck.Slot(p.Index, "index");
        ArgCheck.DType(p.IndexDType, "index dtype");
        ArgCheck.Slot(p.Y, "y");
        ArgCheck.Size(p.Outer, "outer size");
        ArgCheck.Size(p.AxisLength, "axis length");
        ArgCheck.Size(p.Inner, "inner size");
        ArgCheck.Size(p.IndexCount, "index count");
        return p;
    }

    /// <summary>The bytes the step reads and writes over <paramref name="work"/> (o, j) items.</summary>
    public static IEnumerable<StepExtent> Accesses(IndexSelectArgs<long> p, long work)
    {
        long items = StepExtent.Mul(p.Outer, p.IndexCount);
        if (work != items) throw new PlanFormatException($"the step covers {work} items but outer · index count is {items}");
        if (work == 0) yield break;
        yield return StepExtent.Dense(p.X, p.ElementSize, 0, StepExtent.Mul(StepExtent.Mul(p.Outer, p.AxisLength), p.Inner), writes: false);
        yield return StepExtent.Dense(p.Index, ArgCheck.DType(p.IndexDType, "index dtype"), 0, p.IndexCount, writes: false);
        yield return StepExtent.Dense(p.Y, p.ElementSize, 0, StepExtent.Mul(items, p.Inner), writes: true);
    }
}
