using System.Runtime.InteropServices;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>
/// Converts tensors to the interpreter's working arrays (double for floats, long for integers and bool)
/// and back, rounding once on store: floats to nearest even, integers wrapped to the dtype, bool as x != 0.
/// </summary>
internal static class TensorData
{
    /// <summary>All elements widened to double (bool as 0/1).</summary>
    public static double[] ReadDoubles(HostTensor t)
    {
        var r = new double[checked((int)t.ElementCount)];
        var s = t.Data.Span;
        switch (t.DType)
        {
            case DType.F64: MemoryMarshal.Cast<byte, double>(s).CopyTo(r); break;
            case DType.F32: Widen(MemoryMarshal.Cast<byte, float>(s), r); break;
            case DType.F16:
            {
                var h = MemoryMarshal.Cast<byte, Half>(s);
                for (int i = 0; i < r.Length; i++) r[i] = (double)h[i];
                break;
            }

            case DType.BF16:
            {
                var b = MemoryMarshal.Cast<byte, ushort>(s);
                for (int i = 0; i < r.Length; i++) r[i] = BFloat16Bits.ToSingle(b[i]);
                break;
            }

            default:
            {
                var l = ReadLongs(t);
                for (int i = 0; i < r.Length; i++) r[i] = l[i];
                break;
            }
        }

        return r;
    }

    /// <summary>All elements as 64-bit integers; floats truncate as <see cref="ReferenceMath.TruncateToInt64"/>.</summary>
    public static long[] ReadLongs(HostTensor t)
    {
        var r = new long[checked((int)t.ElementCount)];
        var s = t.Data.Span;
        switch (t.DType)
        {
            case DType.I64: MemoryMarshal.Cast<byte, long>(s).CopyTo(r); break;
            case DType.I32:
            {
                var v = MemoryMarshal.Cast<byte, int>(s);
                for (int i = 0; i < r.Length; i++) r[i] = v[i];
                break;
            }

            case DType.I8:
                for (int i = 0; i < r.Length; i++) r[i] = (sbyte)s[i];
                break;
            case DType.U8:
                for (int i = 0; i < r.Length; i++) r[i] = s[i];
                break;
            case DType.Bool:
                for (int i = 0; i < r.Length; i++) r[i] = s[i] != 0 ? 1 : 0;
                break;
            default:
            {
                var d = ReadDoubles(t);
                for (int i = 0; i < r.Length; i++) r[i] = ReferenceMath.TruncateToInt64(d[i]);
                break;
            }
        }

        return r;
    }

    /// <summary>A new tensor of <paramref name="dtype"/> holding <paramref name="values"/>, each rounded once to the dtype.</summary>
    public static HostTensor FromDoubles(DType dtype, int[] shape, double[] values)
    {
        if (!dtype.IsFloat())
        {
            var l = new long[values.Length];
            if (dtype == DType.Bool)
            {
                for (int i = 0; i < l.Length; i++) l[i] = values[i] != 0 ? 1 : 0;
            }
            else
            {
                for (int i = 0; i < l.Length; i++) l[i] = ReferenceMath.TruncateToInt64(values[i]);
            }

            return FromLongs(dtype, shape, l);
        }

        var t = HostTensor.Zeros(dtype, shape);
        var s = t.Data.Span;
        switch (dtype)
        {
            case DType.F64: values.CopyTo(MemoryMarshal.Cast<byte, double>(s)); break;
            case DType.F32:
            {
                var f = MemoryMarshal.Cast<byte, float>(s);
                for (int i = 0; i < values.Length; i++) f[i] = (float)values[i];
                break;
            }

            case DType.F16:
            {
                var h = MemoryMarshal.Cast<byte, Half>(s);
                for (int i = 0; i < values.Length; i++) h[i] = (Half)values[i];
                break;
            }

            default:
            {
                var b = MemoryMarshal.Cast<byte, ushort>(s);
                for (int i = 0; i < values.Length; i++) b[i] = BFloat16Bits.FromSingle((float)values[i]);
                break;
            }
        }

        return t;
    }

    /// <summary>A new tensor of <paramref name="dtype"/> holding <paramref name="values"/>: wrapped for integers, 0/1 for bool, rounded for floats.</summary>
    public static HostTensor FromLongs(DType dtype, int[] shape, long[] values)
    {
        if (dtype.IsFloat())
        {
            var d = new double[values.Length];
            for (int i = 0; i < d.Length; i++) d[i] = values[i];
            return FromDoubles(dtype, shape, d);
        }

        var t = HostTensor.Zeros(dtype, shape);
        var s = t.Data.Span;
        switch (dtype)
        {
            case DType.I64: values.CopyTo(MemoryMarshal.Cast<byte, long>(s)); break;
            case DType.I32:
            {
                var v = MemoryMarshal.Cast<byte, int>(s);
                for (int i = 0; i < values.Length; i++) v[i] = unchecked((int)values[i]);
                break;
            }

            case DType.I8:
            case DType.U8:
                for (int i = 0; i < values.Length; i++) s[i] = unchecked((byte)values[i]);
                break;
            default:
                for (int i = 0; i < values.Length; i++) s[i] = values[i] != 0 ? (byte)1 : (byte)0;
                break;
        }

        return t;
    }

    private static void Widen(ReadOnlySpan<float> src, double[] dst)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = src[i];
    }
}
