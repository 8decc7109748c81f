using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>Length checks and little-endian field access shared by the block formats.</summary>
internal static class BlockSpans
{
    /// <summary>The number of blocks in <paramref name="bytes"/> bytes and <paramref name="values"/> values; throws unless they agree.</summary>
    public static int Count<T>(int bytes, int values)
        where T : IGgmlBlock
    {
        int blockBytes = T.BlockBytes;
        int blockSize = T.BlockSize;
        if (bytes % blockBytes != 0)
        {
            throw new ArgumentException($"{T.Type}: {bytes} bytes are not a whole number of {blockBytes}-byte blocks");
        }

        int n = bytes / blockBytes;
        if ((long)n * blockSize != values)
        {
            throw new ArgumentException($"{T.Type}: {n} blocks hold {(long)n * blockSize} values, not {values}");
        }

        return n;
    }

    /// <summary>The number of blocks of a row and its activations; throws unless they agree.</summary>
    public static int DotCount<T>(int rowBytes, int activationBytes, int activationBlockBytes)
        where T : IGgmlBlock
    {
        int blockBytes = T.BlockBytes;
        if (rowBytes % blockBytes != 0)
        {
            throw new ArgumentException($"{T.Type}: {rowBytes} bytes are not a whole number of {blockBytes}-byte blocks");
        }

        int n = rowBytes / blockBytes;
        if ((long)n * activationBlockBytes != activationBytes)
        {
            throw new ArgumentException($"{T.Type}: a row of {n} blocks needs {(long)n * activationBlockBytes} bytes of activations, not {activationBytes}");
        }

        return n;
    }

    /// <summary>Reads an f16 field as float (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Half(ReadOnlySpan<byte> s, int offset) => (float)BinaryPrimitives.ReadHalfLittleEndian(s.Slice(offset, 2));

    /// <summary>Writes a float as an f16 field, rounding to nearest even as ggml's FP32_TO_FP16 does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteHalf(Span<byte> s, int offset, float value) => BinaryPrimitives.WriteHalfLittleEndian(s.Slice(offset, 2), (Half)value);
}
