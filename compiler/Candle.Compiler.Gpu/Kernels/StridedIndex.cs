namespace Candle.Compiler.Gpu.Kernels;

/// <summary>Element offsets in strided views of a padded six-dim shape <c>s0..s5</c> (only <c>s1..s5</c> split an index).</summary>
internal static class StridedIndex
{
    /// <summary>The element offset of dense index <paramref name="i"/> in the view with offset <paramref name="off"/> and strides <c>t0..t5</c>.</summary>
    public static long Offset(long i, long s1, long s2, long s3, long s4, long s5, long off, long t0, long t1, long t2, long t3, long t4, long t5)
    {
        long c5 = i % s5;
        i /= s5;
        long c4 = i % s4;
        i /= s4;
        long c3 = i % s3;
        i /= s3;
        long c2 = i % s2;
        i /= s2;
        long c1 = i % s1;
        long c0 = i / s1;
        return off + (c0 * t0) + (c1 * t1) + (c2 * t2) + (c3 * t3) + (c4 * t4) + (c5 * t5);
    }
}
