namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// Facts about every <see cref="GgmlType"/> (block size and bytes, as ggml's type traits give them) and dispatch from a
/// runtime type to the block structs' dequantizers and quantizers.
/// </summary>
public static class GgmlTypeTraits
{
    /// <summary>True for the ids ggml currently defines (the members of <see cref="GgmlType"/>).</summary>
    public static bool IsDefined(GgmlType type) => TryGetLayout(type, out _, out _);

    /// <summary>The block size and bytes of a type; false for an id ggml does not define.</summary>
    public static bool TryGetLayout(GgmlType type, out int blockSize, out int blockBytes)
    {
        (blockSize, blockBytes) = type switch
        {
            GgmlType.F32 => (1, 4),
            GgmlType.F16 => (1, 2),
            GgmlType.Q4_0 => (32, 18),
            GgmlType.Q4_1 => (32, 20),
            GgmlType.Q5_0 => (32, 22),
            GgmlType.Q5_1 => (32, 24),
            GgmlType.Q8_0 => (32, 34),
            GgmlType.Q8_1 => (32, 36),
            GgmlType.Q2_K => (256, 84),
            GgmlType.Q3_K => (256, 110),
            GgmlType.Q4_K => (256, 144),
            GgmlType.Q5_K => (256, 176),
            GgmlType.Q6_K => (256, 210),
            GgmlType.Q8_K => (256, 292),
            GgmlType.IQ2_XXS => (256, 66),
            GgmlType.IQ2_XS => (256, 74),
            GgmlType.IQ3_XXS => (256, 98),
            GgmlType.IQ1_S => (256, 50),
            GgmlType.IQ4_NL => (32, 18),
            GgmlType.IQ3_S => (256, 110),
            GgmlType.IQ2_S => (256, 82),
            GgmlType.IQ4_XS => (256, 136),
            GgmlType.I8 => (1, 1),
            GgmlType.I16 => (1, 2),
            GgmlType.I32 => (1, 4),
            GgmlType.I64 => (1, 8),
            GgmlType.F64 => (1, 8),
            GgmlType.IQ1_M => (256, 56),
            GgmlType.BF16 => (1, 2),
            GgmlType.TQ1_0 => (256, 54),
            GgmlType.TQ2_0 => (256, 66),
            GgmlType.MXFP4 => (32, 17),
            _ => (0, 0),
        };
        return blockSize != 0;
    }

    /// <summary>Number of values per block.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The id is not a ggml type.</exception>
    public static int BlockSize(GgmlType type) =>
        TryGetLayout(type, out int size, out _) ? size : throw Unknown(type);

    /// <summary>Number of bytes per block.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The id is not a ggml type.</exception>
    public static int BlockBytes(GgmlType type) =>
        TryGetLayout(type, out _, out int bytes) ? bytes : throw Unknown(type);

    /// <summary>The bytes that <paramref name="count"/> values occupy; <paramref name="count"/> must be a multiple of the block size.</summary>
    /// <exception cref="ArgumentException">The count is negative or not a whole number of blocks.</exception>
    public static long ByteCount(GgmlType type, long count)
    {
        int size = BlockSize(type);
        if (count < 0 || count % size != 0)
        {
            throw new ArgumentException($"{type}: {count} values are not a whole number of {size}-value blocks", nameof(count));
        }

        return checked(count / size * BlockBytes(type));
    }

    /// <summary>ggml's name of the type (f32, q4_0, q4_K, iq2_xxs, bf16...).</summary>
    public static string Name(GgmlType type) => type switch
    {
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q8_K =>
            type.ToString().ToLowerInvariant()[..^1] + "K",
        _ when IsDefined(type) => type.ToString().ToLowerInvariant(),
        _ => $"type {(int)type}",
    };

    /// <summary>True when <see cref="Dequantize"/> handles the type.</summary>
    public static bool CanDequantize(GgmlType type) => type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16
        or GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0 or GgmlType.Q8_1
        or GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q8_K
        or GgmlType.IQ4_NL or GgmlType.IQ4_XS
        or GgmlType.F64 or GgmlType.I8 or GgmlType.I16 or GgmlType.I32 or GgmlType.I64;

    /// <summary>True when <see cref="Quantize"/> handles the type.</summary>
    public static bool CanQuantize(GgmlType type) => type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16
        or GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0
        or GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K
        or GgmlType.IQ4_NL or GgmlType.IQ4_XS;

    /// <summary>Dequantizes whole blocks of <paramref name="type"/> to float32 (integer and f64 types are converted).</summary>
    /// <exception cref="NotSupportedException">The type has no dequantizer here (the i-quants other than IQ4_NL/IQ4_XS, ternary and MXFP4 types).</exception>
    /// <exception cref="ArgumentException">The lengths are not whole blocks or do not agree.</exception>
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        switch (type)
        {
            case GgmlType.F32: BlockF32.Dequantize(src, dst); break;
            case GgmlType.F16: BlockF16.Dequantize(src, dst); break;
            case GgmlType.BF16: BlockBF16.Dequantize(src, dst); break;
            case GgmlType.Q4_0: BlockQ4_0.Dequantize(src, dst); break;
            case GgmlType.Q4_1: BlockQ4_1.Dequantize(src, dst); break;
            case GgmlType.Q5_0: BlockQ5_0.Dequantize(src, dst); break;
            case GgmlType.Q5_1: BlockQ5_1.Dequantize(src, dst); break;
            case GgmlType.Q8_0: BlockQ8_0.Dequantize(src, dst); break;
            case GgmlType.Q8_1: BlockQ8_1.Dequantize(src, dst); break;
            case GgmlType.Q2_K: BlockQ2_K.Dequantize(src, dst); break;
            case GgmlType.Q3_K: BlockQ3_K.Dequantize(src, dst); break;
            case GgmlType.Q4_K: BlockQ4_K.Dequantize(src, dst); break;
            case GgmlType.Q5_K: BlockQ5_K.Dequantize(src, dst); break;
            case GgmlType.Q6_K: BlockQ6_K.Dequantize(src, dst); break;
            case GgmlType.Q8_K: BlockQ8_K.Dequantize(src, dst); break;
            case GgmlType.IQ4_NL: BlockIQ4_NL.Dequantize(src, dst); break;
            case GgmlType.IQ4_XS: BlockIQ4_XS.Dequantize(src, dst); break;
            case GgmlType.F64 or GgmlType.I8 or GgmlType.I16 or GgmlType.I32 or GgmlType.I64: ConvertPlain(type, src, dst); break;
            default: throw new NotSupportedException($"dequantizing ggml type {Name(type)} is not supported");
        }
    }

    /// <summary>
    /// Quantizes float32 values to whole blocks of <paramref name="type"/> as llama.cpp's <c>llama-quantize</c> does
    /// without an importance matrix (the <c>quantize_row_*_ref</c> reference quantizers; <c>quantize_iq4_nl</c>/<c>_xs</c>).
    /// </summary>
    /// <exception cref="NotSupportedException">The type has no quantizer here (Q8_1, Q8_K, most i-quants and the integer types).</exception>
    /// <exception cref="ArgumentException">The lengths are not whole blocks or do not agree.</exception>
    public static void Quantize(GgmlType type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        switch (type)
        {
            case GgmlType.F32: BlockF32.Quantize(src, dst); break;
            case GgmlType.F16: BlockF16.Quantize(src, dst); break;
            case GgmlType.BF16: BlockBF16.Quantize(src, dst); break;
            case GgmlType.Q4_0: BlockQ4_0.Quantize(src, dst); break;
            case GgmlType.Q4_1: BlockQ4_1.Quantize(src, dst); break;
            case GgmlType.Q5_0: BlockQ5_0.Quantize(src, dst); break;
            case GgmlType.Q5_1: BlockQ5_1.Quantize(src, dst); break;
            case GgmlType.Q8_0: BlockQ8_0.Quantize(src, dst); break;
            case GgmlType.Q2_K: KQuantizers.QuantizeQ2_K(src, dst); break;
            case GgmlType.Q3_K: KQuantizers.QuantizeQ3_K(src, dst); break;
            case GgmlType.Q4_K: KQuantizers.QuantizeQ4_K(src, dst); break;
            case GgmlType.Q5_K: KQuantizers.QuantizeQ5_K(src, dst); break;
            case GgmlType.Q6_K: KQuantizers.QuantizeQ6_K(src, dst); break;
            case GgmlType.IQ4_NL: BlockIQ4_NL.Quantize(src, dst); break;
            case GgmlType.IQ4_XS: BlockIQ4_XS.Quantize(src, dst); break;
            default: throw new NotSupportedException($"quantizing to ggml type {Name(type)} is not supported");
        }
    }

    private static void ConvertPlain(GgmlType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        int size = BlockBytes(type);
        if (src.Length % size != 0 || src.Length / size != dst.Length)
        {
            throw new ArgumentException($"{type}: {src.Length} bytes do not hold {dst.Length} values");
        }

        for (int i = 0; i < dst.Length; i++)
        {
            var s = src.Slice(i * size, size);
            dst[i] = type switch
            {
                GgmlType.F64 => (float)System.Buffers.Binary.BinaryPrimitives.ReadDoubleLittleEndian(s),
                GgmlType.I8 => (sbyte)s[0],
                GgmlType.I16 => System.Buffers.Binary.BinaryPrimitives.ReadInt16LittleEndian(s),
                GgmlType.I32 => System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(s),
                _ => System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(s),
            };
        }
    }

    private static ArgumentOutOfRangeException Unknown(GgmlType type) =>
        new(nameof(type), (int)type, $"{(int)type} is not a ggml type id");
}
