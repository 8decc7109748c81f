using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Args;
using Candle.Runtime.Kernels.Cpu.Ops;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// The scalar elementwise kernel for any op and dtype (integers exactly, floats in double precision),
/// with strided and broadcast inputs; arguments: <see cref="FallbackArgs{T}"/>. Work items are output elements.
/// </summary>
public static class ElementwiseFallback
{
    /// <summary>The kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint[] slots, long[] a, long start, long end)
    {
        var args = FallbackArgs.Read(a);
        var op = ElementwiseOps.ByCode((int)args.Op);
        bool where = op.Code == WhereOp.Code, cast = op.Code == CastOp.Code;
        nint outp = slots[args.Out];
        var outDt = (DType)args.OutDType;
        int nIn = args.InputCount;
        ReadOnlySpan<long> shape = args.Shape.Span;
        int rank = shape.Length;
        Span<nint> ptr = stackalloc nint[3];
        Span<int> dt = stackalloc int[3];
        Span<long> off = stackalloc long[3];
        Span<int> strideAt = stackalloc int[3];
        ReadOnlySpan<long> operands = args.Operands.Span;
        for (int k = 0; k < nIn; k++)
        {
            var input = args.Input(k);
            ptr[k] = slots[input.Slot];
            dt[k] = (int)input.DType;
            off[k] = input.Offset;
            strideAt[k] = (k * (3 + rank)) + 3;
        }

        var inDt = (DType)dt[where ? 1 : 0];
        bool integer = !inDt.IsFloat() && !cast;
        Span<long> idx = stackalloc long[Math.Max(rank, 1)];
        Span<long> e = stackalloc long[3];
        for (long i = start; i < end; i++)
        {
            long rem = i;
            for (int d = rank - 1; d >= 0; d--)
            {
                long n = shape[d];
                idx[d] = rem % n;
                rem /= n;
            }

            for (int k = 0; k < nIn; k++)
            {
                long o = off[k];
                for (int d = 0; d < rank; d++) o += idx[d] * operands[strideAt[k] + d];
                e[k] = o;
            }

            if (where)
            {
                bool c = ElementIO.ReadInt(ptr[0], (DType)dt[0], e[0]) != 0;
                int pick = c ? 1 : 2;
                if (inDt.IsFloat()) ElementIO.Write(outp, outDt, i, ElementIO.Read(ptr[pick], (DType)dt[pick], e[pick]));
                else ElementIO.WriteInt(outp, outDt, i, ElementIO.ReadInt(ptr[pick], (DType)dt[pick], e[pick]));
                continue;
            }

            if (cast && !inDt.IsFloat())
            {
                ElementIO.WriteInt(outp, outDt, i, ElementIO.ReadInt(ptr[0], inDt, e[0]));
                continue;
            }

            if (integer)
            {
                long x = ElementIO.ReadInt(ptr[0], inDt, e[0]);
                if (nIn == 1 && op.UnaryInteger is { } f1)
                {
                    ElementIO.WriteInt(outp, outDt, i, f1(x));
                    continue;
                }

                if (nIn == 2 && op.BinaryInteger is { } f2)
                {
                    ElementIO.WriteInt(outp, outDt, i, f2(x, ElementIO.ReadInt(ptr[1], (DType)dt[1], e[1])));
                    continue;
                }
            }

            double xa = ElementIO.Read(ptr[0], inDt, e[0]);
            double res = cast ? xa
                : nIn == 1 ? op.Unary!(xa)
                : op.Binary!(xa, ElementIO.Read(ptr[1], (DType)dt[1], e[1]));
            ElementIO.Write(outp, outDt, i, res);
        }
    }
}
