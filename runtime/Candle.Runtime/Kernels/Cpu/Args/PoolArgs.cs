using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:pool</c> (<see cref="ConvKernels.Pool"/>, max or average pooling over NC* planes):
/// <c>x, y, dtype, spatialRank, isMax, countIncludePad, inSpatial[sp], kernel[sp], stride[sp], padding[sp],
/// outSpatial[sp]</c>. Work items are (n, c) planes.
/// </summary>
internal readonly record struct PoolArgs<T>(
    T X, T Y, T DType, T IsMax, T CountIncludePad,
    ReadOnlyMemory<T> InSpatial, ReadOnlyMemory<T> Kernel, ReadOnlyMemory<T> Stride, ReadOnlyMemory<T> Padding, ReadOnlyMemory<T> OutSpatial)
{
    /// <summary>The positional encoding of a plan step; <paramref name="rank"/> converts the spatial rank.</summary>
    public T[] Encode(Func<int, T> rank) =>
    [
        X, Y, DType, rank(InSpatial.Length), IsMax, CountIncludePad,
        .. InSpatial.Span, .. Kernel.Span, .. Stride.Span, .. Padding.Span, .. OutSpatial.Span,
    ];
}

/// <summary>Kernel name, decoding and accesses of <see cref="PoolArgs{T}"/>.</summary>
internal static class PoolArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:pool";

    /// <summary>Fields before the spatial shapes.</summary>
    private const int ShapeAt = 6;

    /// <summary>Reads the arguments without checks (the kernel's hot path; the plan checked them at binding).</summary>
    public static PoolArgs<long> Read(long[] a)
    {
        int sp = (int)a[3];
        return new(
            a[0], a[1], a[2], a[4], a[5],
            a.AsMemory(ShapeAt, sp), a.AsMemory(ShapeAt + sp, sp), a.AsMemory(ShapeAt + (2 * sp), sp),
            a.AsMemory(ShapeAt + (3 * sp), sp), a.AsMemory(ShapeAt + (4 * sp), sp));
    }

    /// <summary>Reads and checks the arguments.</summary>
    public static PoolArgs<long> Decode(long[] a)
    {
        if (a.Length < ShapeAt) throw new PlanFormatException($"{a.Length} arguments, at least {ShapeAt} expected");
        int sp = ArgCheck.Rank(a[3], "spatial rank");
        ArgCheck.Count(a, ShapeAt + (5 * sp), ShapeAt + (5 * sp));
        var p = Read(a);
        ArgCheck.Slot(p.X, "x");
        ArgCheck.Slot(p.Y, "y");
        ArgCheck.DType(p.DType, "dtype");
        ArgCheck.Flag(p.IsMax, "max flag");
        ArgCheck.Flag(p.CountIncludePad, "count-include-pad flag");
        ArgCheck.Sizes(p.InSpatial.Span, "input spatial size");
        ArgCheck.Sizes(p.Kernel.Span, "kernel size");
        ArgCheck.Window(p.Stride.Span, 1, "stride");
        ArgCheck.Window(p.Padding.Span, 0, "padding");
        ArgCheck.Sizes(p.OutSpatial.Span, "output spatial size");
        return p;
    }

    /// <summary>
    /// The bytes the step reads and writes over <paramref name="work"/> planes; the kernel visits only the window
    /// positions inside the input, so the dense extents bound its reads and its work.
    /// </summary>
    public static IEnumerable<StepExtent> Accesses(PoolArgs<long> p, long work)
    {
        long es = ArgCheck.DType(p.DType, "dtype");
        long inSize = ArgCheck.Product(p.InSpatial.Span), outSize = ArgCheck.Product(p.OutSpatial.Span);
        ArgCheck.Product(p.Kernel.Span);
        for (int d = 0; d < p.OutSpatial.Length; d++) StepExtent.Mul(p.OutSpatial.Span[d], p.Stride.Span[d]);
        if (work == 0 || outSize == 0) yield break;
        yield return StepExtent.Dense(p.X, es, 0, StepExtent.Mul(work, inSize), writes: false);
        yield return StepExtent.Dense(p.Y, es, 0, StepExtent.Mul(work, outSize), writes: true);
    }
}
