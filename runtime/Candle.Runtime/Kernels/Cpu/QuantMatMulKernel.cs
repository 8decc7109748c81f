using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Args;
using Candle.Runtime.Kernels.Quant;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// Products and lookups over weights stored in ggml blocks (<see cref="QuantizedTensor"/>), read as stored.
/// </summary>
/// <remarks>
/// A product quantizes its activation rows to the weight type's activation format (<see cref="QuantActivations"/>)
/// once per chunk of work, then walks its chunk of weight rows in tiles: each tile of weight rows is multiplied with
/// every activation row before the next tile is read, so a prefill reads each weight once while its activations stay
/// in cache, and a decode step (one row) streams the weights once. Chunks are contiguous ranges of weight rows, one
/// per worker. Types without an integer dot product (and machines without AVX2) dequantize each weight row once per
/// chunk and multiply in float32.
/// </remarks>
public static unsafe class QuantMatMulKernel
{
    private const int TileRows = 16;

    /// <summary>y[m, n] = Σ_k x[m, k]·w[n, k]; arguments: <see cref="QuantMatMulArgs{T}"/>. Work items are weight rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint[] slots, long[] a, long start, long end)
    {
        if (start >= end) return;
        var p = QuantMatMulArgs.Read(a);
        var type = (GgmlType)p.Type;
        int rows = (int)p.Rows, n = (int)p.N, k = (int)p.K;
        if (rows == 0) return;
        float* x = (float*)slots[p.X];
        byte* w = (byte*)slots[p.W];
        float* y = (float*)slots[p.Y];
        int rowBytes = (int)QuantMatMulArgs.WeightBytes(p.Type, 1, k);
        var format = QuantActivations.VecDotType(type);
        if (format == GgmlType.F32 || !QuantRowDot.IsAccelerated)
        {
            Dequantized(type, x, w, y, rows, n, k, rowBytes, (int)start, (int)end);
            return;
        }

        int xRowBytes = QuantActivations.RowBytes(format, k);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(checked(rows * xRowBytes));
        try
        {
            for (int m = 0; m < rows; m++)
            {
                var src = new ReadOnlySpan<float>(x + ((long)m * k), k);
                var dst = buffer.AsSpan(m * xRowBytes, xRowBytes);
                if (format == GgmlType.Q8_0) QuantActivations.QuantizeQ8_0(src, dst);
                else QuantActivations.QuantizeQ8_K(src, dst);
            }

            int nb = k / GgmlTypeTraits.BlockSize(type);
            fixed (byte* xq = buffer)
            {
                for (int n0 = (int)start; n0 < end; n0 += TileRows)
                {
                    int n1 = (int)Math.Min(end, n0 + TileRows);
                    for (int m = 0; m < rows; m++)
                    {
                        byte* xm = xq + ((long)m * xRowBytes);
                        float* ym = y + ((long)m * n);
                        for (int j = n0; j < n1; j++)
                        {
                            ym[j] = QuantRowDot.Dot(type, w + ((long)j * rowBytes), xm, nb);
                        }
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void Dequantized(GgmlType type, float* x, byte* w, float* y, int rows, int n, int k, int rowBytes, int start, int end)
    {
        float[] row = ArrayPool<float>.Shared.Rent(k);
        try
        {
            var r = row.AsSpan(0, k);
            for (int j = start; j < end; j++)
            {
                GgmlTypeTraits.Dequantize(type, new ReadOnlySpan<byte>(w + ((long)j * rowBytes), rowBytes), r);
                for (int m = 0; m < rows; m++)
                {
                    y[((long)m * n) + j] = DotF32(r, x + ((long)m * k), k);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(row);
        }
    }

    private static float DotF32(Span<float> r, float* x, int k)
    {
        fixed (float* rp = r)
        {
            var acc = Vector256<float>.Zero;
            int i = 0;
            for (; i + 8 <= k; i += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(rp + i), Vector256.Load(x + i), acc);
            float sum = Vector256.Sum(acc);
            for (; i < k; i++) sum += rp[i] * x[i];
            return sum;
        }
    }

    /// <summary>y[j, :] = row index[j] of w, dequantized; arguments: <see cref="QuantEmbeddingArgs{T}"/>. Work items are positions.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Embedding(nint[] slots, long[] a, long start, long end)
    {
        var p = QuantEmbeddingArgs.Read(a);
        var type = (GgmlType)p.Type;
        byte* w = (byte*)slots[p.W];
        nint idx = slots[p.Index];
        var idt = (DType)p.IndexDType;
        float* y = (float*)slots[p.Y];
        int cols = (int)p.Cols;
        int rowBytes = (int)QuantMatMulArgs.WeightBytes(p.Type, 1, cols);
        for (long j = start; j < end; j++)
        {
            long v = ElementIO.ReadInt(idx, idt, j);
            if (v < 0 || v >= p.Rows)
            {
                throw new IndexOutOfRangeException($"quantized embedding: index {v} (at position {j}) is out of range for {p.Rows} rows");
            }

            GgmlTypeTraits.Dequantize(type, new ReadOnlySpan<byte>(w + (v * rowBytes), rowBytes), new Span<float>(y + (j * cols), cols));
        }
    }
}
