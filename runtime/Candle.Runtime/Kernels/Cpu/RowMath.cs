using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>Vectorized float32 row primitives (sum, max, sum of squares, exp, scaling) used by the row kernels.</summary>
public static unsafe class RowMath
{
    /// <summary>Sum of <paramref name="n"/> floats (eight or sixteen partial sums, then a scalar tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Sum(float* p, long n)
    {
        long i = 0;
        var acc = Vector256<float>.Zero;
        var acc2 = Vector256<float>.Zero;
        for (; i + 16 <= n; i += 16)
        {
            acc += Vector256.Load(p + i);
            acc2 += Vector256.Load(p + i + 8);
        }

        for (; i + 8 <= n; i += 8) acc += Vector256.Load(p + i);
        float s = Vector256.Sum(acc + acc2);
        for (; i < n; i++) s += p[i];
        return s;
    }

    /// <summary>Sum of squares of <paramref name="n"/> floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float SumSquares(float* p, long n)
    {
        long i = 0;
        var acc = Vector256<float>.Zero;
        for (; i + 8 <= n; i += 8)
        {
            var v = Vector256.Load(p + i);
            acc = Vector256.FusedMultiplyAdd(v, v, acc);
        }

        float s = Vector256.Sum(acc);
        for (; i < n; i++) s += p[i] * p[i];
        return s;
    }

    /// <summary>Sum of (x − mean)² of <paramref name="n"/> floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float SumSquaredDeviations(float* p, long n, float mean)
    {
        long i = 0;
        var acc = Vector256<float>.Zero;
        var m = Vector256.Create(mean);
        for (; i + 8 <= n; i += 8)
        {
            var v = Vector256.Load(p + i) - m;
            acc = Vector256.FusedMultiplyAdd(v, v, acc);
        }

        float s = Vector256.Sum(acc);
        for (; i < n; i++)
        {
            float d = p[i] - mean;
            s += d * d;
        }

        return s;
    }

    /// <summary>Maximum of <paramref name="n"/> ≥ 1 floats, NaN propagating.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Max(float* p, long n)
    {
        long i = 0;
        float m = float.NegativeInfinity;
        bool nan = false;
        if (n >= 8)
        {
            var acc = Vector256.Create(float.NegativeInfinity);
            var anyNan = Vector256<float>.Zero;
            for (; i + 8 <= n; i += 8)
            {
                var v = Vector256.Load(p + i);
                anyNan |= ~Vector256.Equals(v, v);
                acc = Vector256.MaxNative(acc, v);
            }

            nan = anyNan != Vector256<float>.Zero;
            for (int k = 0; k < 8; k++) m = Math.Max(m, acc.GetElement(k));
        }

        for (; i < n; i++)
        {
            float v = p[i];
            nan |= float.IsNaN(v);
            if (v > m) m = v;
        }

        return nan ? float.NaN : m;
    }

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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float ExpShifted(float* src, float* dst, long n, float shift)
    {
        long i = 0;
        var acc = Vector256<float>.Zero;
        var s = Vector256.Create(shift);
        for (; i + 8 <= n; i += 8)
        {
            var e = Vector256.Exp(Vector256.Load(src + i) - s);
            e.Store(dst + i);
            acc += e;
        }

        float sum = Vector256.Sum(acc);
        for (; i < n; i++)
        {
            float e = MathF.Exp(src[i] - shift);
            dst[i] = e;
            sum += e;
        }

        return sum;
    }

    /// <summary>Sum of exp(src[i] − shift).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float SumExpShifted(float* src, long n, float shift)
    {
        long i = 0;
        var acc = Vector256<float>.Zero;
        var s = Vector256.Create(shift);
        for (; i + 8 <= n; i += 8) acc += Vector256.Exp(Vector256.Load(src + i) - s);
        float sum = Vector256.Sum(acc);
        for (; i < n; i++) sum += MathF.Exp(src[i] - shift);
        return sum;
    }

    /// <summary>dst[i] = src[i] · scale + shift.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScaleShift(float* src, float* dst, long n, float scale, float shift)
    {
        long i = 0;
        var sc = Vector256.Create(scale);
        var sh = Vector256.Create(shift);
        for (; i + 8 <= n; i += 8) Vector256.FusedMultiplyAdd(Vector256.Load(src + i), sc, sh).Store(dst + i);
        for (; i < n; i++) dst[i] = MathF.FusedMultiplyAdd(src[i], scale, shift);
    }

    /// <summary>dst[i] = (src[i] − mean) · rstd · (w?[i] ?? 1) + (b?[i] ?? 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Normalize(float* src, float* dst, long n, float mean, float rstd, float* w, float* b)
    {
        long i = 0;
        var m = Vector256.Create(mean);
        var r = Vector256.Create(rstd);
        for (; i + 8 <= n; i += 8)
        {
            var v = (Vector256.Load(src + i) - m) * r;
            if (w != null) v *= Vector256.Load(w + i);
            if (b != null) v += Vector256.Load(b + i);
            v.Store(dst + i);
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
