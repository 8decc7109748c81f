using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:copy</c> (<see cref="CopyKernels.Copy"/>), a strided view copied into another strided view
/// of the same shape: <c>dst, src, elementSize, rank, shape[rank], dstOffset, dstStrides[rank], srcOffset,
/// srcStrides[rank]</c> (in elements; rank 0 copies one element). Work items are elements in row-major order of the
/// shape.
/// </summary>
internal readonly record struct CopyArgs<T>(
    T Dst, T Src, T ElementSize, ReadOnlyMemory<T> Shape, T DstOffset, ReadOnlyMemory<T> DstStrides, T SrcOffset, ReadOnlyMemory<T> SrcStrides)
{
    /// <summary>The positional encoding of a plan step; <paramref name="rank"/> converts the rank.</summary>
    public T[] Encode(Func<int, T> rank) =>
        [Dst, Src, ElementSize, rank(Shape.Length), .. Shape.Span, DstOffset, .. DstStrides.Span, SrcOffset, .. SrcStrides.Span];
}

/// <summary>Kernel name, decoding and accesses of <see cref="CopyArgs{T}"/>.</summary>
internal static class CopyArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:copy";

    /// <summary>Fields before the shape.</summary>
    private const int ShapeAt = 4;

    /// <summary>Reads the arguments without checks (the kernel's hot path; the plan checked them at binding).</summary>
    public static CopyArgs<long> Read(long[] a)
    {
        int r = (int)a[3];
        int dAt = ShapeAt + r, sAt = dAt + 1 + r;
        return new(a[0], a[1], a[2], a.AsMemory(ShapeAt, r), a[dAt], a.AsMemory(dAt + 1, r), a[sAt], a.AsMemory(sAt + 1, r));
    }

    /// <summary>Reads and checks the arguments.</summary>
    public static CopyArgs<long> Decode(long[] a)
    {
        if (a.Length < ShapeAt) throw new PlanFormatException($"{a.Length} arguments, at least {ShapeAt} expected");
        int r = ArgCheck.Rank(a[3], "rank");
        ArgCheck.Count(a, ShapeAt + 2 + (3 * r), ShapeAt + 2 + (3 * r));
        var p = Read(a);
        ArgCheck.Slot(p.Dst, "dst");
        ArgCheck.Slot(p.Src, "src");
        ArgCheck.ElementSize(p.ElementSize);
        ArgCheck.Sizes(p.Shape.Span, "extent");
        return p;
    }

    /// <summary>The bytes the step reads and writes over <paramref name="work"/> elements.</summary>
    public static IEnumerable<StepExtent> Accesses(CopyArgs<long> p, long work)
    {
        long count = ArgCheck.Product(p.Shape.Span);
        if (work != count) throw new PlanFormatException($"the step covers {work} elements but the shape has {count}");
        var dst = StepExtent.Of(p.Dst, p.ElementSize, p.DstOffset, p.Shape.Span, p.DstStrides.Span, writes: true);

        // A copy writes each destination element once: a destination view spanning fewer elements than the shape
        // overlaps itself (and would let the work count grow without a buffer to bound it).
        if ((dst.End - dst.First) / p.ElementSize < count) throw new PlanFormatException($"the destination view spans fewer than the {count} elements it is given");
        yield return dst;
        yield return StepExtent.Of(p.Src, p.ElementSize, p.SrcOffset, p.Shape.Span, p.SrcStrides.Span, writes: false);
    }
}
