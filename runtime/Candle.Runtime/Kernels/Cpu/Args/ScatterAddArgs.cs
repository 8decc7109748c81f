using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:scatter_add</c> (<see cref="GatherKernels.ScatterAdd"/>), out = x; out[p with p[axis] =
/// index[p]] += src[p] for every index position p, on contiguous tensors: <c>x, index, indexDType, src, y, dtype, rank,
/// axis, xShape[rank], indexShape[rank], srcShape[rank]</c>. One work item; the kernel range-checks each index against
/// xShape[axis].
/// </summary>
internal readonly record struct ScatterAddArgs<T>(
    T X, T Index, T IndexDType, T Src, T Y, T DType, T Axis, ReadOnlyMemory<T> XShape, ReadOnlyMemory<T> IndexShape, ReadOnlyMemory<T> SrcShape)
{
    /// <summary>The positional encoding of a plan step; <paramref name="rank"/> converts the rank.</summary>
    public T[] Encode(Func<int, T> rank) =>
        [X, Index, IndexDType, Src, Y, DType, rank(XShape.Length), Axis, .. XShape.Span, .. IndexShape.Span, .. SrcShape.Span];
}

/// <summary>Kernel name, decoding and accesses of <see cref="ScatterAddArgs{T}"/>.</summary>
internal static class ScatterAddArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:scatter_add";

    /// <summary>Fields before the shapes.</summary>
    private const int ShapeAt = 8;

    /// <summary>Reads the arguments without checks (the kernel's hot path; the plan checked them at binding).</summary>
    public static ScatterAddArgs<long> Read(long[] a)
    {
        int r = (int)a[6];
        return new(a[0], a[1], a[2], a[3], a[4], a[5], a[7], a.AsMemory(ShapeAt, r), a.AsMemory(ShapeAt + r, r), a.AsMemory(ShapeAt + (2 * r), r));
    }

    /// <summary>Reads and checks the arguments.</summary>
    public static ScatterAddArgs<long> Decode(long[] a)
    {
        if (a.Length < ShapeAt) throw new PlanFormatException($"{a.Length} arguments, at least {ShapeAt} expected");
        int r = ArgCheck.Rank(a[6], "rank");
        ArgCheck.Count(a, ShapeAt + (3 * r), ShapeAt + (3 * r));
        var p = Read(a);
        ArgCheck.Slot(p.X, "x");
        ArgCheck.Slot(p.Index, "index");
        ArgCheck.DType(p.IndexDType, "index dtype");
        ArgCheck.Slot(p.Src, "src");
        ArgCheck.Slot(p.Y, "y");
        ArgCheck.DType(p.DType, "dtype");
        ArgCheck.Axis(p.Axis, r);
        ArgCheck.Sizes(p.XShape.Span, "x size");
        ArgCheck.Sizes(p.IndexShape.Span, "index size");
        ArgCheck.Sizes(p.SrcShape.Span, "src size");
        ArgCheck.Within(p.IndexShape.Span, p.XShape.Span, (int)p.Axis, "index", "x");
        ArgCheck.Within(p.IndexShape.Span, p.SrcShape.Span, -1, "index", "src");
        return p;
    }

    /// <summary>The bytes the step reads and writes (one work item).</summary>
    public static IEnumerable<StepExtent> Accesses(ScatterAddArgs<long> p, long work)
    {
        if (work != 1) throw new PlanFormatException($"the step covers {work} items, 1 expected");
        long es = ArgCheck.DType(p.DType, "dtype");
        long xn = ArgCheck.Product(p.XShape.Span), count = ArgCheck.Product(p.IndexShape.Span), sn = ArgCheck.Product(p.SrcShape.Span);
        yield return StepExtent.Dense(p.X, es, 0, xn, writes: false);
        yield return StepExtent.Dense(p.Y, es, 0, xn, writes: true);
        if (count == 0) yield break;
        yield return StepExtent.Dense(p.Index, ArgCheck.DType(p.IndexDType, "index dtype"), 0, count, writes: false);
        yield return StepExtent.Dense(p.Src, es, 0, sn, writes: false);
    }
}
