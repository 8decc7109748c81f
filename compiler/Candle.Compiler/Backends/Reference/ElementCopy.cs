using System.Runtime.InteropServices;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>Dtype-agnostic element moves: the data-movement ops copy element bytes without converting values.</summary>
internal static class ElementCopy
{
    /// <summary>
    /// A new tensor of <paramref name="shape"/> whose element i is <paramref name="src"/>[map[i]], or
    /// <paramref name="fill"/> where map[i] is negative.
    /// </summary>
    public static HostTensor Take(HostTensor src, int[] shape, int[] map, double fill = 0)
    {
        var dst = HostTensor.Zeros(src.DType, shape);
        switch (src.DType.SizeInBytes())
        {
            case 1: Take<byte>(src, dst, map, fill); break;
            case 2: Take<ushort>(src, dst, map, fill); break;
            case 4: Take<uint>(src, dst, map, fill); break;
            default: Take<ulong>(src, dst, map, fill); break;
        }

        return dst;
    }

    /// <summary>Element i is a[i] where cond[i] is true, else b[i]; a and b share dtype and shape.</summary>
    public static HostTensor Select(HostTensor cond, HostTensor a, HostTensor b, int[] shape)
    {
        var dst = HostTensor.Zeros(a.DType, shape);
        var c = cond.Data.Span;
        switch (a.DType.SizeInBytes())
        {
            case 1: Select<byte>(c, a, b, dst); break;
            case 2: Select<ushort>(c, a, b, dst); break;
            case 4: Select<uint>(c, a, b, dst); break;
            default: Select<ulong>(c, a, b, dst); break;
        }

        return dst;
    }

    /// <summary>Copies <paramref name="count"/> elements between tensors of one dtype.</summary>
    public static void Copy(HostTensor src, int srcOffset, HostTensor dst, int dstOffset, int count)
    {
        int size = src.DType.SizeInBytes();
        src.Data.Span.Slice(srcOffset * size, count * size).CopyTo(dst.Data.Span.Slice(dstOffset * size, count * size));
    }

    private static void Take<T>(HostTensor src, HostTensor dst, int[] map, double fill)
        where T : unmanaged
    {
        var s = MemoryMarshal.Cast<byte, T>(src.Data.Span);
        var d = MemoryMarshal.Cast<byte, T>(dst.Data.Span);
        T f = default;
        if (Array.Exists(map, i => i < 0))
        {
            var one = HostTensor.Zeros(src.DType, 1);
            one.SetDouble(0, fill);
            f = MemoryMarshal.Cast<byte, T>(one.Data.Span)[0];
        }

        for (int i = 0; i < map.Length; i++)
        {
            int j = map[i];
            d[i] = j < 0 ? f : s[j];
        }
    }

    private static void Select<T>(ReadOnlySpan<byte> cond, HostTensor a, HostTensor b, HostTensor dst)
        where T : unmanaged
    {
        var sa = MemoryMarshal.Cast<byte, T>(a.Data.Span);
        var sb = MemoryMarshal.Cast<byte, T>(b.Data.Span);
        var d = MemoryMarshal.Cast<byte, T>(dst.Data.Span);
        for (int i = 0; i < d.Length; i++) d[i] = cond[i] != 0 ? sa[i] : sb[i];
    }
}
