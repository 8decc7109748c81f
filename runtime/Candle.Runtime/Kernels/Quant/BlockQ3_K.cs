using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// ggml's Q3_K (<c>block_q3_K</c>, 110 bytes for 256 values): 32 bytes hmask (the third bit of each quant), 64 bytes of
/// low 2-bit quants, 12 bytes of sixteen packed 6-bit scales, f16 d; value = d·(scale − 32)·(q − (high bit ? 0 : 4)).
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 110)]
[SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Justification = "ggml's own type name")]
public readonly struct BlockQ3_K : IGgmlBlock
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q3_K;

    /// <inheritdoc/>
    public static int BlockSize => 256;

    /// <inheritdoc/>
    public static int BlockBytes => 110;

    /// <inheritdoc/>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        const uint kmask1 = 0x03030303;
        const uint kmask2 = 0x0f0f0f0f;
        int n = BlockSpans.Count<BlockQ3_K>(src.Length, dst.Length);
        Span<uint> aux = stackalloc uint[4];
        for (int b = 0; b < n; b++)
        {
            var block = src.Slice(b * 110, 110);
            var hm = block[..32];
            float dAll = BlockSpans.Half(block, 108);
            var packed = block.Slice(96, 12);
            aux[0] = BinaryPrimitives.ReadUInt32LittleEndian(packed);
            aux[1] = BinaryPrimitives.ReadUInt32LittleEndian(packed[4..]);
            uint tmp = BinaryPrimitives.ReadUInt32LittleEndian(packed[8..]);
            aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
            aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
            aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
            aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
            var scales = MemoryMarshal.Cast<uint, sbyte>(aux);

            var y = dst.Slice(b * 256, 256);
            int yi = 0;
            int si = 0;
            int m = 1;
            for (int half = 0; half < 2; half++)
            {
                var q = block.Slice(32 + 32 * half, 32);
                for (int shift = 0; shift < 8; shift += 2)
                {
                    for (int part = 0; part < 2; part++)
                    {
                        float dl = dAll * (scales[si++] - 32);
                        for (int l = 0; l < 16; l++)
                        {
                            int k = l + 16 * part;
                            y[yi++] = dl * (((q[k] >> shift) & 3) - ((hm[k] & m) != 0 ? 0 : 4));
                        }
                    }

                    m <<= 1;
                }
            }
        }
    }
}
