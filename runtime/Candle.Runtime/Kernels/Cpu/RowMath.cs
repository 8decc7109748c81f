using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Candle.Runtime.Kernels.Cpu.Vectors;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// Vectorized float32 row primitives (sum, max, sum of squares, exp, scaling, normalization) used by the row
/// kernels. Each comes generic over the lanes (<see cref="F32x8"/>, <see cref="F32x16"/>) and as a plain method
/// that uses the widest accelerated lanes. Exponentials are <see cref="FastExp"/>'s.
/// </summary>
public static unsafe class RowMath
{
    /// <summary>True when the plain methods use 512-bit lanes.</summary>
    public static bool Wide => Vector512.IsHardwareAccelerated;

    /// <summary>Sum of <paramref name="n"/> floats.</summary>
    public static float Sum(float* p, long n) => Wide ? Sum<F32x16, Vector512<float>>(p, n) : Sum<F32x8, Vector256<float>>(p, n);

    /// <summary>Sum of squares of <paramref name="n"/> floats.</summary>
    public static float SumSquares(float* p, long n) => Wide ? SumSquares<F32x16, Vector512<float>>(p, n) : SumSquares<F32x8, Vector256<float>>(p, n);

    /// <summary>Sum of (x − mean)² of <paramref name="n"/> floats.</summary>
    public static float SumSquaredDeviations(float* p, long n, float mean) =>
        Wide ? SumSquaredDeviations<F32x16, Vector512<float>>(p, n, mean) : SumSquaredDeviations<F32x8, Vector256<float>>(p, n, mean);

    /// <summary>Maximum of <paramref name="n"/> ≥ 1 floats, NaN propagating.</summary>
    public static float Max(float* p, long n) => Wide ? Max<F32x16, Vector512<float>>(p, n) : Max<F32x8, Vector256<float>>(p, n);

    /// <summary>Minimum of <paramref name="n"/> ≥ 1 floats, NaN propagating.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Min(float* p, long n)
    {
        long i = 0;
        float m = float.PositiveInfinity;
        bool nan = false;
        if (n >= 8)
        {
            var acc = Vector256.Create(float.PositiveInfinity);
            var anyNan = Vector256<float>.Zero;
            for (; i + 8 <= n; i += 8)
            {
                var v = Vector256.Load(p + i);
                anyNan |= ~Vector256.Equals(v, v);
                acc = Vector256.MinNative(acc, v);
            }

            nan = anyNan != Vector256<float>.Zero;
            for (int k = 0; k < 8; k++) m = Math.Min(m, acc.GetElement(k));
        }

        for (; i < n; i++)
        {
            float v = p[i];
            nan |= float.IsNaN(v);
            if (v < m) m = v;
        }

        return nan ? float.NaN : m;
    }

    /// <summary>dst[i] = exp(src[i] − shift); returns the sum of the results.</summary>
    public static float ExpShifted(float* src, float* dst, long n, float shift) =>
        Wide ? ExpShifted<F32x16, Vector512<float>>(src, dst, n, shift) : ExpShifted<F32x8, Vector256<float>>(src, dst, n, shift);

    /// <summary>Sum of exp(src[i] − shift).</summary>
    public static float SumExpShifted(float* src, long n, float shift) =>
        Wide ? SumExpShifted<F32x16, Vector512<float>>(src, n, shift) : SumExpShifted<F32x8, Vector256<float>>(src, n, shift);

    /// <summary>dst[i] = src[i] · scale + shift.</summary>
    public static void ScaleShift(float* src, float* dst, long n, float scale, float shift)
    {
        if (Wide) ScaleShift<F32x16, Vector512<float>>(src, dst, n, scale, shift);
        else ScaleShift<F32x8, Vector256<float>>(src, dst, n, scale, shift);
    }

    /// <summary>dst[i] = (src[i] − mean) · rstd · (w?[i] ?? 1) + (b?[i] ?? 0).</summary>
    public static void Normalize(float* src, float* dst, long n, float mean, float rstd, float* w, float* b)
    {
        if (Wide) Normalize<F32x16, Vector512<float>>(src, dst, n, mean, rstd, w, b);
        else Normalize<F32x8, Vector256<float>>(src, dst, n, mean, rstd, w, b);
    }

    /// <summary>Sum of <paramref name="n"/> floats (two vector accumulators, then a scalar tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum<TL, TV>(float* p, long n)
        where TL : IF32Vector<TV>
        where TV : struct
    {
        int w = TL.Count;
        long i = 0;
        var acc = TL.Zero;
        var acc2 = TL.Zero;
        for (; i + (2 * w) <= n; i += 2 * w)
        {
            acc = TL.Add(acc, TL.Load(p + i));
            acc2 = TL.Add(acc2, TL.Load(p + i + w));
        }

        for (; i + w <= n; i += w) acc = TL.Add(acc, TL.Load(p + i));
        float s = TL.Sum(TL.Add(acc, acc2));
        for (; i < n; i++) s += p[i];
        return s;
    }

    /// <summary>Sum of squares of <paramref name="n"/> floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumSquares<TL, TV>(float* p, long n)
        where TL : IF32Vector<TV>
        where TV : struct
    {
        int w = TL.Count;
        long i = 0;
        var acc = TL.Zero;
        var acc2 = TL.Zero;
        for (; i + (2 * w) <= n; i += 2 * w)
        {
            var v = TL.Load(p + i);
            var u = TL.Load(p + i + w);
            acc = TL.Fma(v, v, acc);
            acc2 = TL.Fma(u, u, acc2);
        }

        for (; i + w <= n; i += w)
        {
            var v = TL.Load(p + i);
            acc = TL.Fma(v, v, acc);
        }

        float s = TL.Sum(TL.Add(acc, acc2));
        for (; i < n; i++) s += p[i] * p[i];
        return s;
    }

    /// <summary>Sum of (x − mean)² of <paramref name="n"/> floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumSquaredDeviations<TL, TV>(float* p, long n, float mean)
        where TL : IF32Vector<TV>
        where TV : struct
    {
        int w = TL.Count;
        long i = 0;
        var acc = TL.Zero;
        var m = TL.Splat(mean);
        for (; i + w <= n; i += w)
        {
            var v = TL.Sub(TL.Load(p + i), m);
            acc = TL.Fma(v, v, acc);
        }

        float s = TL.Sum(acc);
        for (; i < n; i++)
        {
            float d = p[i] - mean;
            s += d * d;
        }

        return s;
    }

    /// <summary>Maximum of <paramref name="n"/> ≥ 1 floats, NaN propagating.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Max<TL, TV>(float* p, long n)
        where TL : IF32Vector<TV>
        where TV : struct
    {
        int w = TL.Count;
        long i = 0;
        float m = float.NegativeInfinity;
        bool nan = false;
        if (n >= w)
        {
            var acc = TL.Splat(float.NegativeInfinity);
            var anyNan = TL.Zero;
            for (; i + w <= n; i += w)
            {
                var v = TL.Load(p + i);
                anyNan = TL.Add(anyNan, TL.IsNaN(v));
                acc = TL.MaxNative(acc, v);
            }

            nan = TL.Any(anyNan);
            m = TL.Max(acc);
        }

        for (; i < n; i++)
        {
            float v = p[i];
            nan |= float.IsNaN(v);
            if (v > m) m = v;
        }

        return nan ? float.NaN : m;
    }

    /// <summary>dst[i] = exp(src[i] − shift); returns the sum of the results.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ExpShifted<TL, TV>(float* src, float* dst, long n, float shift)
        where TL : IF32Vector<TV>
        where TV : struct
    {
        int w = TL.Count;
        long i = 0;
        var acc = TL.Zero;
        var s = TL.Splat(shift);
        for (; i + w <= n; i += w)
        {
            var e = TL.Exp(TL.Sub(TL.Load(src + i), s));
            TL.Store(e, dst + i);
            acc = TL.Add(acc, e);
        }

        float sum = TL.Sum(acc);
        for (; i < n; i++)
        {
            float e = FastExp.Exp(src[i] - shift);
            dst[i] = e;
            sum += e;
        }

        return sum;
    }

    /// <summary>Sum of exp(src[i] − shift).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumExpShifted<TL, TV>(float* src, long n, float shift)
        where TL : IF32Vector<TV>
        where TV : struct
    {
        int w = TL.Count;
        long i = 0;
        var acc = TL.Zero;
        var s = TL.Splat(shift);
        for (; i + w <= n; i += w) acc = TL.Add(acc, TL.Exp(TL.Sub(TL.Load(src + i), s)));
        float sum = TL.Sum(acc);
        for (; i < n; i++) sum += FastExp.Exp(src[i] - shift);
        return sum;
    }

    /// <summary>dst[i] = src[i] · scale + shift.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ScaleShift<TL, TV>(float* src, float* dst, long n, float scale, float shift)
        where TL : IF32Vector<TV>
        where TV : struct
    {
        int w = TL.Count;
        long i = 0;
        var sc = TL.Splat(scale);
        var sh = TL.Splat(shift);
        for (; i + w <= n; i += w) TL.Store(TL.Fma(TL.Load(src + i), sc, sh), dst + i);
        for (; i < n; i++) dst[i] = MathF.FusedMultiplyAdd(src[i], scale, shift);
    }

    /// <summary>dst[i] = (src[i] − mean) · rstd · (w?[i] ?? 1) + (b?[i] ?? 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Normalize<TL, TV>(float* src, float* dst, long n, float mean, float rstd, float* w, float* b)
        where TL : IF32Vector<TV>
        where TV : struct
    {
        int lanes = TL.Count;
        long i = 0;
        var m = TL.Splat(mean);
        var r = TL.Splat(rstd);
        for (; i + lanes <= n; i += lanes)
        {
            var v = TL.Mul(TL.Sub(TL.Load(src + i), m), r);
            if (w != null) v = TL.Mul(v, TL.Load(w + i));
            if (b != null) v = TL.Add(v, TL.Load(b + i));
            TL.Store(v, dst + i);
        }

        for (; i < n; i++)
        {
            float v = (src[i] - mean) * rstd;
            if (w != null) v *= w[i];
            if (b != null) v += b[i];
            dst[i] = v;
        }
    }

    /// <summary>Reads an element of a float buffer that may be absent (null gives <paramref name="fallback"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float At(float* p, long i, float fallback) => p == null ? fallback : p[i];
}
