using System.Runtime.CompilerServices;
using Candle.Runtime.Tensors;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>Reads and writes single elements of any dtype at a raw address (used by the scalar fallback kernels).</summary>
public static unsafe class ElementIO
{
    /// <summary>Reads element <paramref name="index"/> as a double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Read(nint p, DType dtype, long index) => dtype switch
    {
        DType.F32 => ((float*)p)[index],
        DType.F64 => ((double*)p)[index],
        DType.F16 => (double)((Half*)p)[index],
        DType.BF16 => BFloat16Bits.ToSingle(((ushort*)p)[index]),
        DType.I64 => ((long*)p)[index],
        DType.I32 => ((int*)p)[index],
        DType.I8 => ((sbyte*)p)[index],
        DType.U8 => ((byte*)p)[index],
        DType.Bool => ((byte*)p)[index] != 0 ? 1.0 : 0.0,
        _ => throw new InvalidOperationException($"unknown dtype {dtype}"),
    };

    /// <summary>Reads element <paramref name="index"/> as an exact integer (floats truncate).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long ReadInt(nint p, DType dtype, long index) => dtype switch
    {
        DType.I64 => ((long*)p)[index],
        DType.I32 => ((int*)p)[index],
        DType.I8 => ((sbyte*)p)[index],
        DType.U8 => ((byte*)p)[index],
        DType.Bool => ((byte*)p)[index] != 0 ? 1 : 0,
        _ => ToInt64(Read(p, dtype, index)),
    };

    /// <summary>Writes a double, converted to <paramref name="dtype"/> (floats to integers truncate toward zero).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write(nint p, DType dtype, long index, double value)
    {
        switch (dtype)
        {
            case DType.F32: ((float*)p)[index] = (float)value; break;
            case DType.F64: ((double*)p)[index] = value; break;
            case DType.F16: ((Half*)p)[index] = (Half)value; break;
            case DType.BF16: ((ushort*)p)[index] = BFloat16Bits.FromSingle((float)value); break;
            case DType.Bool: ((byte*)p)[index] = value != 0 ? (byte)1 : (byte)0; break;
            default: WriteInt(p, dtype, index, ToInt64(value)); break;
        }
    }

    /// <summary>Writes an integer, converted to <paramref name="dtype"/> (wrapping for narrow integer types).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteInt(nint p, DType dtype, long index, long value)
    {
        switch (dtype)
        {
            case DType.I64: ((long*)p)[index] = value; break;
            case DType.I32: ((int*)p)[index] = unchecked((int)value); break;
            case DType.I8: ((sbyte*)p)[index] = unchecked((sbyte)value); break;
            case DType.U8: ((byte*)p)[index] = unchecked((byte)value); break;
            case DType.Bool: ((byte*)p)[index] = value != 0 ? (byte)1 : (byte)0; break;
            default: Write(p, dtype, index, value); break;
        }
    }

    /// <summary>Float to int64 as x86 truncation does (NaN and out-of-range give long.MinValue).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long ToInt64(double value) =>
        double.IsNaN(value) || value >= 9.2233720368547758E18 || value < -9.2233720368547758E18 ? long.MinValue : (long)value;
}
