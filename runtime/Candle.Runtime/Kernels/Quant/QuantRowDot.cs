using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// Integer dot products of one weight row with one row of quantized activations (llama.cpp's <c>ggml_vec_dot_*</c>):
/// exact 8-bit × 8-bit sums per block in int32 (AVX-VNNI <c>vpdpbusd</c> where available, AVX2 <c>pmaddubsw</c> +
/// <c>pmaddwd</c> otherwise, the portable byte operations of <see cref="QuantIsa"/> without AVX2), scaled by the block
/// scales in float32. Each kernel takes the instruction set as a type argument (<see cref="IQuantIsa"/>); <see cref="Dot"/>
/// runs the host's (<see cref="HostIsa"/>).
/// </summary>
internal static unsafe class QuantRowDot
{
    /// <summary>True when the dot products run on AVX2 (and the 4 × 4 tiles and the GEMV of <see cref="QuantTileDot"/> and <see cref="QuantGemv"/> exist).</summary>
    public static bool IsAccelerated => HostIsa.Avx2;

    /// <summary>The dot product of <paramref name="nb"/> blocks of <paramref name="type"/> with activations in its <see cref="QuantActivations.VecDotType"/>, on the host's instruction set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(GgmlType type, byte* w, byte* a, int nb) => Dot<HostIsa>(type, w, a, nb);

    /// <summary>The dot product of <paramref name="nb"/> blocks of <paramref name="type"/> with activations in its <see cref="QuantActivations.VecDotType"/>, on <typeparamref name="T"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot<T>(GgmlType type, byte* w, byte* a, int nb)
        where T : struct, IQuantIsa => type switch
    {
        GgmlType.Q8_0 => Q8_0<T>(w, a, nb),
        GgmlType.Q4_0 => Q4_0<T>(w, a, nb),
        GgmlType.Q4_K => Q4_K<T>(w, a, nb),
        GgmlType.Q6_K => Q6_K<T>(w, a, nb),
        GgmlType.Q5_0 => Q5_0<T>(w, a, nb),
        GgmlType.IQ4_NL => IQ4_NL<T>(w, a, nb),
        GgmlType.Q4_1 => Q4_1<T>(w, a, nb),
        GgmlType.Q5_1 => Q5_1<T>(w, a, nb),
        GgmlType.Q5_K => Q5_K<T>(w, a, nb),
        GgmlType.Q2_K => Q2_K<T>(w, a, nb),
        GgmlType.Q3_K => Q3_K<T>(w, a, nb),
        GgmlType.IQ4_XS => IQ4_XS<T>(w, a, nb),
        _ => throw new NotSupportedException($"no integer dot product for {GgmlTypeTraits.Name(type)}"),
    };

    /// <summary>Σ u[i]·s[i] over 32 unsigned and 32 signed bytes, added into 8 int32 lanes (lane k sums bytes 4k..4k+3); AVX2 only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> DotU8S8(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> s)
    {
        if (AvxVnni.IsSupported) return AvxVnni.MultiplyWideningAndAdd(acc, u, s);
        var p = Avx2.MultiplyAddAdjacent(u, s);
        return acc + Avx2.MultiplyAddAdjacent(p, Vector256<short>.One);
    }

    // Every f16 bit pattern as float32 (256 KiB, pinned, read by the block loops instead of converting in software).
    private static readonly float[] HalfTable = BuildHalfTable();

    /// <summary>
    /// The f16 → float32 table. The block loops read it through a local pointer taken before the loop: a static field
    /// read inside a loop that is compiled straight to optimized code keeps a class-initialization check there, whose
    /// helper call makes the JIT spill every vector register across it.
    /// </summary>
    internal static float* HalfTablePointer => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(HalfTable));

    /// <summary>The f16 at <paramref name="p"/> as float32, read from <paramref name="table"/> (<see cref="HalfTablePointer"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Half(float* table, byte* p) => table[Unsafe.ReadUnaligned<ushort>(p)];

    private static float[] BuildHalfTable()
    {
        var t = GC.AllocateUninitializedArray<float>(65536, pinned: true);
        for (int i = 0; i < t.Length; i++) t[i] = (float)BitConverter.UInt16BitsToHalf((ushort)i);
        return t;
    }

    /// <summary>Q8_0 weights × Q8_0 activations (34-byte blocks of 32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q8_0<T>(byte* w, byte* a, int nb)
        where T : struct, IQuantIsa
    {
        float* ht = HalfTablePointer;
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < nb; b++, w += 34, a += 34)
        {
            var x = Vector256.Load((sbyte*)(w + 2));
            var y = Vector256.Load((sbyte*)(a + 2));
            var s = QuantIsa.DotU8S8<T>(Vector256<int>.Zero, QuantIsa.Abs<T>(x), QuantIsa.Sign<T>(y, x));
            acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(s), Vector256.Create(Half(ht, w) * Half(ht, a)), acc);
        }

        return Vector256.Sum(acc);
    }

    /// <summary>Q4_0 weights (18-byte blocks: f16 scale, nibbles; value = nibble − 8) × Q8_0 activations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q4_0<T>(byte* w, byte* a, int nb)
        where T : struct, IQuantIsa
    {
        float* ht = HalfTablePointer;
        var acc = Vector256<float>.Zero;
        var mask = Vector128.Create((byte)0x0F);
        var eight = Vector256.Create((sbyte)8);
        for (int b = 0; b < nb; b++, w += 18, a += 34)
        {
            var packed = Vector128.Load(w + 2);
            var x = Vector256.Create(packed & mask, Vector128.ShiftRightLogical(packed, 4) & mask).AsSByte() - eight;
            var y = Vector256.Load((sbyte*)(a + 2));
            var s = QuantIsa.DotU8S8<T>(Vector256<int>.Zero, QuantIsa.Abs<T>(x), QuantIsa.Sign<T>(y, x));
            acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(s), Vector256.Create(Half(ht, w) * Half(ht, a)), acc);
        }

        return Vector256.Sum(acc);
    }

    /// <summary>The 32 bytes of a block's fifth bits (<paramref name="qh"/>, bit j for value j) as 0xFF where set, 0 elsewhere.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> BitsToBytes<T>(uint qh)
        where T : struct, IQuantIsa
    {
        var spread = QuantIsa.Shuffle<T>(Vector256.Create(qh).AsByte(), Vector256.Create(
            (byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        var bit = Vector256.Create((byte)1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
        return Vector256.Equals(spread & bit, bit);
    }

    /// <summary>The 32 nibbles of 16 packed bytes in value order (low nibbles are values 0..15, high nibbles 16..31).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Nibbles(byte* p)
    {
        var mask = Vector128.Create((byte)0x0F);
        var packed = Vector128.Load(p);
        return Vector256.Create(packed & mask, Vector128.ShiftRightLogical(packed, 4) & mask);
    }

    /// <summary>
    /// Q5_0 weights (22-byte blocks: f16 d, 4 bytes of fifth bits, 16 bytes of nibbles; value = q − 16) × Q8_0
    /// activations. The signed value is the nibble with 0xF0 or'ed in where the fifth bit is clear (llama.cpp's trick).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q5_0<T>(byte* w, byte* a, int nb)
        where T : struct, IQuantIsa
    {
        float* ht = HalfTablePointer;
        var acc = Vector256<float>.Zero;
        var high = Vector256.Create((byte)0xF0);
        for (int b = 0; b < nb; b++, w += 22, a += 34)
        {
            var x = (Nibbles(w + 6) | Vector256.AndNot(high, BitsToBytes<T>(Unsafe.ReadUnaligned<uint>(w + 2)))).AsSByte();
            var y = Vector256.Load((sbyte*)(a + 2));
            var s = QuantIsa.DotU8S8<T>(Vector256<int>.Zero, QuantIsa.Abs<T>(x), QuantIsa.Sign<T>(y, x));
            acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(s), Vector256.Create(Half(ht, w) * Half(ht, a)), acc);
        }

        return Vector256.Sum(acc);
    }

    /// <summary>IQ4_NL weights (18-byte blocks: f16 d, 16 bytes of nibbles indexing the non-linear grid) × Q8_0 activations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float IQ4_NL<T>(byte* w, byte* a, int nb)
        where T : struct, IQuantIsa
    {
        float* ht = HalfTablePointer;
        var acc = Vector256<float>.Zero;
        var grid = Vector128.Create(NonLinear4Bit.Values);
        var table = Vector256.Create(grid, grid).AsByte();
        for (int b = 0; b < nb; b++, w += 18, a += 34)
        {
            var x = QuantIsa.Shuffle<T>(table, Nibbles(w + 2)).AsSByte();
            var y = Vector256.Load((sbyte*)(a + 2));
            var s = QuantIsa.DotU8S8<T>(Vector256<int>.Zero, QuantIsa.Abs<T>(x), QuantIsa.Sign<T>(y, x));
            acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(s), Vector256.Create(Half(ht, w) * Half(ht, a)), acc);
        }

        return Vector256.Sum(acc);
    }

    /// <summary>
    /// Q4_1 weights (20-byte blocks: f16 d, f16 m, 16 bytes of nibbles; value = nibble·d + m) × Q8_1 activations (f16 d_a,
    /// f16 s = d_a·Σq, 32 quants): d·d_a·Σ nibble·q + m·s.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q4_1<T>(byte* w, byte* a, int nb)
        where T : struct, IQuantIsa
    {
        float* ht = HalfTablePointer;
        var acc = Vector256<float>.Zero;
        float mins = 0;
        for (int b = 0; b < nb; b++, w += 20, a += 36)
        {
            var s = QuantIsa.DotU8S8<T>(Vector256<int>.Zero, Nibbles(w + 4), Vector256.Load((sbyte*)(a + 4)));
            acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(s), Vector256.Create(Half(ht, w) * Half(ht, a)), acc);
            mins += Half(ht, w + 2) * Half(ht, a + 2);
        }

        return Vector256.Sum(acc) + mins;
    }

    /// <summary>
    /// Q5_1 weights (24-byte blocks: f16 d, f16 m, 4 bytes of fifth bits, 16 bytes of nibbles; value = q·d + m) × Q8_1
    /// activations: d·d_a·Σ q·q_a + m·s.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q5_1<T>(byte* w, byte* a, int nb)
        where T : struct, IQuantIsa
    {
        float* ht = HalfTablePointer;
        var acc = Vector256<float>.Zero;
        var fifth = Vector256.Create((byte)0x10);
        float mins = 0;
        for (int b = 0; b < nb; b++, w += 24, a += 36)
        {
            var u = Nibbles(w + 8) | (BitsToBytes<T>(Unsafe.ReadUnaligned<uint>(w + 4)) & fifth);
            var s = QuantIsa.DotU8S8<T>(Vector256<int>.Zero, u, Vector256.Load((sbyte*)(a + 4)));
            acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(s), Vector256.Create(Half(ht, w) * Half(ht, a)), acc);
            mins += Half(ht, w + 2) * Half(ht, a + 2);
        }

        return Vector256.Sum(acc) + mins;
    }

    /// <summary>
    /// Q4_K weights (144-byte super-blocks: f16 d and dmin, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles) ×
    /// Q8_K activations (f32 d, 256 quants, 16 sums of 16): d·Σ scale_j·(q·a)_j − dmin·Σ min_j·(bsum_2j + bsum_2j+1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q4_K<T>(byte* w, byte* a, int nb)
        where T : struct, IQuantIsa
    {
        float* ht = HalfTablePointer;
        float total = 0;
        var mask = Vector256.Create((byte)0x0F);
        for (int b = 0; b < nb; b++, w += 144, a += 292)
        {
            float da = Unsafe.ReadUnaligned<float>(a);
            var sc = new ReadOnlySpan<byte>(w + 4, 12);
            short* bsums = (short*)(a + 260);
            var acc = Vector256<int>.Zero;
            int mins = 0;
            for (int j = 0; j < 4; j++)
            {
                var (s0, m0) = KQuantScales.Get(2 * j, sc);
                var (s1, m1) = KQuantScales.Get((2 * j) + 1, sc);
                var q = Vector256.Load(w + 16 + (32 * j));
                var lo = QuantIsa.DotU8S8<T>(Vector256<int>.Zero, q & mask, Vector256.Load((sbyte*)(a + 4 + (64 * j))));
                var hi = QuantIsa.DotU8S8<T>(Vector256<int>.Zero, Vector256.ShiftRightLogical(q, 4) & mask, Vector256.Load((sbyte*)(a + 36 + (64 * j))));
                acc += (lo * s0) + (hi * s1);
                mins += (m0 * (bsums[4 * j] + bsums[(4 * j) + 1])) + (m1 * (bsums[(4 * j) + 2] + bsums[(4 * j) + 3]));
            }

            total += (Half(ht, w) * da * Vector256.Sum(acc)) - (Half(ht, w + 2) * da * mins);
        }

        return total;
    }

    /// <summary>
    /// Q6_K weights (210-byte super-blocks: 128 bytes of low nibbles, 64 of high 2-bit pairs, 16 int8 scales, f16 d;
    /// value = q6 − 32) × Q8_K activations: d·Σ scale_k·((q6·a)_k − 32·bsum_k) over the 16 groups of 16.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q6_K<T>(byte* w, byte* a, int nb)
        where T : struct, IQuantIsa
    {
        float* ht = HalfTablePointer;
        float total = 0;
        var m4 = Vector256.Create((byte)0x0F);
        var m2 = Vector256.Create((byte)0x03);
        for (int b = 0; b < nb; b++, w += 210, a += 292)
        {
            float d = Half(ht, w + 208) * Unsafe.ReadUnaligned<float>(a);
            sbyte* sc = (sbyte*)(w + 192);
            short* bsums = (short*)(a + 260);
            var acc = Vector256<int>.Zero;
            for (int h = 0; h < 2; h++)
            {
                var ql0 = Vector256.Load(w + (64 * h));
                var ql1 = Vector256.Load(w + (64 * h) + 32);
                var qh = Vector256.Load(w + 128 + (32 * h));
                sbyte* q8 = (sbyte*)(a + 4 + (128 * h));
                sbyte* s = sc + (8 * h);
                var v0 = (ql0 & m4) | Vector256.ShiftLeft(qh & m2, 4);
                var v1 = (ql1 & m4) | Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, 2) & m2, 4);
                var v2 = Vector256.ShiftRightLogical(ql0, 4) | Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, 4) & m2, 4);
                var v3 = Vector256.ShiftRightLogical(ql1, 4) | Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, 6), 4);
                acc += QuantIsa.DotU8S8<T>(Vector256<int>.Zero, v0, Vector256.Load(q8)) * Scales(s[0], s[1]);
                acc += QuantIsa.DotU8S8<T>(Vector256<int>.Zero, v1, Vector256.Load(q8 + 32)) * Scales(s[2], s[3]);
                acc += QuantIsa.DotU8S8<T>(Vector256<int>.Zero, v2, Vector256.Load(q8 + 64)) * Scales(s[4], s[5]);
                acc += QuantIsa.DotU8S8<T>(Vector256<int>.Zero, v3, Vector256.Load(q8 + 96)) * Scales(s[6], s[7]);
            }

            int offset = 0;
            for (int k = 0; k < 16; k++) offset += sc[k] * bsums[k];
            total += d * (Vector256.Sum(acc) - (32 * offset));
        }

        return total;
    }

    /// <summary>
    /// Q5_K weights (176-byte super-blocks: f16 d and dmin, 12 bytes of 6-bit scales and mins, 32 bytes of fifth bits,
    /// 128 bytes of nibbles) × Q8_K activations: as Q4_K, with bit 2j (low nibbles) or 2j + 1 (high nibbles) of qh[l]
    /// adding 16 to value l of the j-th 64.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q5_K<T>(byte* w, byte* a, int nb)
        where T : struct, IQuantIsa
    {
        float* ht = HalfTablePointer;
        float total = 0;
        var mask = Vector256.Create((byte)0x0F);
        var one = Vector256.Create((byte)1);
        for (int b = 0; b < nb; b++, w += 176, a += 292)
        {
            float da = Unsafe.ReadUnaligned<float>(a);
            var sc = new ReadOnlySpan<byte>(w + 4, 12);
            short* bsums = (short*)(a + 260);
            var qh = Vector256.Load(w + 16);
            var acc = Vector256<int>.Zero;
            int mins = 0;
            for (int j = 0; j < 4; j++)
            {
                var (s0, m0) = KQuantScales.Get(2 * j, sc);
                var (s1, m1) = KQuantScales.Get((2 * j) + 1, sc);
                var q = Vector256.Load(w + 48 + (32 * j));
                var h0 = Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, 2 * j) & one, 4);
                var h1 = Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, (2 * j) + 1) & one, 4);
                var lo = QuantIsa.DotU8S8<T>(Vector256<int>.Zero, (q & mask) | h0, Vector256.Load((sbyte*)(a + 4 + (64 * j))));
                var hi = QuantIsa.DotU8S8<T>(Vector256<int>.Zero, (Vector256.ShiftRightLogical(q, 4) & mask) | h1, Vector256.Load((sbyte*)(a + 36 + (64 * j))));
                acc += (lo * s0) + (hi * s1);
                mins += (m0 * (bsums[4 * j] + bsums[(4 * j) + 1])) + (m1 * (bsums[(4 * j) + 2] + bsums[(4 * j) + 3]));
            }

            total += (Half(ht, w) * da * Vector256.Sum(acc)) - (Half(ht, w + 2) * da * mins);
        }

        return total;
    }

    /// <summary>
    /// Q2_K weights (84-byte super-blocks: 16 scale bytes, low nibble scale and high nibble min of each 16 values, 64
    /// bytes of 2-bit values, f16 d and dmin) × Q8_K activations: d·Σ_g sc_g·(q·a)_g − dmin·Σ_g min_g·bsum_g.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q2_K<T>(byte* w, byte* a, int nb)
        where T : struct, IQuantIsa
    {
        float* ht = HalfTablePointer;
        float total = 0;
        var three = Vector256.Create((byte)3);
        for (int b = 0; b < nb; b++, w += 84, a += 292)
        {
            float da = Unsafe.ReadUnaligned<float>(a);
            short* bsums = (short*)(a + 260);
            var acc = Vector256<int>.Zero;
            int mins = 0;
            for (int g = 0; g < 16; g++) mins += (w[g] >> 4) * bsums[g];
            for (int n = 0; n < 2; n++)
            {
                var q = Vector256.Load(w + 16 + (32 * n));
                for (int j = 0; j < 4; j++)
                {
                    int g = (8 * n) + (2 * j);
                    var u = Vector256.ShiftRightLogical(q, 2 * j) & three;
                    var p = QuantIsa.DotU8S8<T>(Vector256<int>.Zero, u, Vector256.Load((sbyte*)(a + 4 + (128 * n) + (32 * j))));
                    acc += p * Scales(w[g] & 0xF, w[g + 1] & 0xF);
                }
            }

            total += (Half(ht, w + 80) * da * Vector256.Sum(acc)) - (Half(ht, w + 82) * da * mins);
        }

        return total;
    }

    /// <summary>
    /// Q3_K weights (110-byte super-blocks: 32 bytes of high bits, 64 bytes of 2-bit values, 12 bytes of 6-bit scales,
    /// f16 d; value = (q2 | h·4) − 4) × Q8_K activations: d·Σ_g (sc_g − 32)·((u·a)_g − 4·bsum_g) with u = q2 | h·4.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q3_K<T>(byte* w, byte* a, int nb)
        where T : struct, IQuantIsa
    {
        const uint kmask1 = 0x03030303;
        const uint kmask2 = 0x0f0f0f0f;
        float* ht = HalfTablePointer;
        float total = 0;
        var three = Vector256.Create((byte)3);
        var one = Vector256.Create((byte)1);
        uint* aux = stackalloc uint[4];
        for (int b = 0; b < nb; b++, w += 110, a += 292)
        {
            float da = Unsafe.ReadUnaligned<float>(a);
            short* bsums = (short*)(a + 260);
            uint a0 = Unsafe.ReadUnaligned<uint>(w + 96), a1 = Unsafe.ReadUnaligned<uint>(w + 100), tmp = Unsafe.ReadUnaligned<uint>(w + 104);
            aux[0] = (a0 & kmask2) | ((tmp & kmask1) << 4);
            aux[1] = (a1 & kmask2) | (((tmp >> 2) & kmask1) << 4);
            aux[2] = ((a0 >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
            aux[3] = ((a1 >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
            sbyte* sc = (sbyte*)aux;
            var hm = Vector256.Load(w);
            var acc = Vector256<int>.Zero;
            int offset = 0;
            for (int g = 0; g < 16; g++) offset += (sc[g] - 32) * bsums[g];
            for (int n = 0; n < 2; n++)
            {
                var q = Vector256.Load(w + 32 + (32 * n));
                for (int j = 0; j < 4; j++)
                {
                    int g = (8 * n) + (2 * j);
                    var h = Vector256.ShiftLeft(Vector256.ShiftRightLogical(hm, (4 * n) + j) & one, 2);
                    var u = (Vector256.ShiftRightLogical(q, 2 * j) & three) | h;
                    var p = QuantIsa.DotU8S8<T>(Vector256<int>.Zero, u, Vector256.Load((sbyte*)(a + 4 + (128 * n) + (32 * j))));
                    acc += p * Scales(sc[g] - 32, sc[g + 1] - 32);
                }
            }

            total += Half(ht, w + 108) * da * (Vector256.Sum(acc) - (4 * offset));
        }

        return total;
    }

    /// <summary>
    /// IQ4_XS weights (136-byte super-blocks: f16 d, 16 bits of high scale bits, 4 bytes of low scale nibbles, 128
    /// bytes of nibbles indexing the non-linear grid; sub-block scale ls − 32 of 6 bits) × Q8_K activations.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float IQ4_XS<T>(byte* w, byte* a, int nb)
        where T : struct, IQuantIsa
    {
        float* ht = HalfTablePointer;
        float total = 0;
        var grid = Vector128.Create(NonLinear4Bit.Values);
        var table = Vector256.Create(grid, grid).AsByte();
        for (int b = 0; b < nb; b++, w += 136, a += 292)
        {
            float da = Unsafe.ReadUnaligned<float>(a);
            int scalesH = Unsafe.ReadUnaligned<ushort>(w + 2);
            int sum = 0;
            for (int ib = 0; ib < 8; ib++)
            {
                int ls = ((w[4 + (ib / 2)] >> (4 * (ib % 2))) & 0xF) | (((scalesH >> (2 * ib)) & 3) << 4);
                var x = QuantIsa.Shuffle<T>(table, Nibbles(w + 8 + (16 * ib))).AsSByte();
                var y = Vector256.Load((sbyte*)(a + 4 + (32 * ib)));
                sum += (ls - 32) * Vector256.Sum(QuantIsa.DotU8S8<T>(Vector256<int>.Zero, QuantIsa.Abs<T>(x), QuantIsa.Sign<T>(y, x)));
            }

            total += Half(ht, w) * da * sum;
        }

        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Scales(int a, int b) => Vector256.Create(a, a, a, a, b, b, b, b);
}
