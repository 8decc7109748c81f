using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:gather</c> (<see cref="GatherKernels.Gather"/>), out[p] = x[p with p[axis] = index[p]] on
/// contiguous tensors: <c>x, elementSize, index, indexDType, y, rank, axis, xShape[rank], indexShape[rank]</c>. Work
/// items are index elements; the kernel range-checks each index against xShape[axis].
/// </summary>
internal readonly record struct GatherArgs<T>(T X, T ElementSize, T Index, T IndexDType, T Y, T Axis, ReadOnlyMemory<T> XShape, ReadOnlyMemory<T> IndexShape)
{
    /// <summary>The positional encoding of a plan step; <paramref name="rank"/> converts the rank.</summary>
    public T[] Encode(Func<int, T> rank) => [X, ElementSize, Index, IndexDType, Y, rank(XShape.Length), Axis, .. XShape.Span, .. IndexShape.Span];
}

/// <summary>Kernel name, decoding and accesses of <see cref="GatherArgs{T}"/>.</summary>
internal static class GatherArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:gather";

    /// <summary>Fields before the shapes.</summary>
    private const int ShapeAt = 7;

    /// <summary>Reads the arguments without checks (the kernel's hot path; the plan checked them at binding).</summary>
    public static GatherArgs<long> Read(long[] a)
    {
        int r = (int)a[5];
        return new(a[0], a[1], a[2], a[3], a[4], a[6], a.AsMemory(ShapeAt, r), a.AsMemory(ShapeAt + r, r));
    }

    /// <summary>Reads and checks the arguments.</summary>
    public static GatherArgs<long> Decode(long[] a)
    {
        if (a.Length < ShapeAt) throw new PlanFormatException($"{a.Length} arguments, at least {ShapeAt} expected");
        int r = ArgCheck.Rank(a[5], "rank");
        ArgCheck.Count(a, ShapeAt + (2 * r), ShapeAt + (2 * r));
        var p = Read(a);
        ArgCheck.Slot(p.X, "x");
        ArgCheck.ElementSize(p.ElementSize);
        ArgCheck.Slot(p.Index, "index");
        ArgCheck.DType(p.IndexDType, "index dtype");
        ArgCheck.Slot(p.Y, "y");
        ArgCheck.Axis(p.Axis, r);
        ArgCheck.Sizes(p.XShape.Span, "x size");
        ArgCheck.Sizes(p.IndexShape.Span, "index size");
        ArgCheck.Within(p.IndexShape.Span, p.XShape.Span, (int)p.Axis, "index", "x");
        return p;
    }

    /// <summary>The bytes the step reads and writes over <paramref name="work"/> index elements.</summary>
    public static IEnumerable<StepExtent> Accesses(GatherArgs<long> p, long work)
    {
        long count = ArgCheck.Product(p.IndexShape.Span), xn = ArgCheck.Product(p.XShape.Span);
        if (work != count) throw new PlanFormatException($"the step covers {work} items but the index has {count} elements");
        if (work == 0) yield break;
        yield return StepExtent.Dense(p.X, p.ElementSize, 0, xn, writes: false);
        yield return StepExtent.Dense(p.Index, ArgCheck.DType(p.IndexDType, "index dtype"), 0, count, writes: false);
        yield return StepExtent.Dense(p.Y, p.ElementSize, 0, count, writes: true);
    }
}
